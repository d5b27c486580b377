#include "app/cli.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "app/ca_command.h"
#include "app/check_command.h"
#include "app/connect_command.h"
#include "app/env_command.h"
#include "app/route_command.h"
#include "app/run_command.h"
#include "app/serve_command.h"
#include "app/token_command.h"
#include "config/config_loader.h"
#include "config/proxy_url.h"

namespace ferry {

namespace {

constexpr int kUsageError = 2;

struct FlagHelp {
  std::string_view key;
  std::string_view help;
};

// One line of help per setting; the flag names come from known_keys().
const std::map<std::string_view, std::string_view>& flag_help() {
  static const std::map<std::string_view, std::string_view> help = {
      {"listen", "HTTP proxy listener ADDR:PORT, [::1]:PORT for IPv6 (repeatable; default 127.0.0.1:3128)"},
      {"idle_timeout", "close tunnels and waits idle this long, e.g. 5m; 0 disables (default 5m)"},
      {"connect_timeout", "timeout for DNS plus TCP/TLS connect (default 10s)"},
      {"max_connections", "client connections at once; more get 503 (default 4096)"},
      {"workers", "event-loop threads (default: one per core)"},
      {"relay", "tunnel relay: auto (splice on Linux), splice or copy (default auto)"},
      {"log_format", "json or text (default json)"},
      {"log_level", "debug, info, warn, error or off (default info)"},
      {"security.allow", "client CIDRs allowed to use the proxy (default 127.0.0.0/8,::1/128)"},
      {"security.connect_ports", "ports CONNECT may reach, comma-separated, or * (default 443)"},
      {"socks_listen", "SOCKS5 listener ADDR:PORT (no authentication; routes like CONNECT)"},
      {"upstream.proxies",
       "upstream proxy URL: http://, https://, socks5://, socks5h:// or host:port (repeatable = failover order)"},
      {"upstream.auth", "auto, negotiate, ntlm, digest, basic or none (default auto: strongest offered)"},
      {"upstream.spn", "Kerberos service name for Negotiate (default HTTP@<upstream host> as configured)"},
      {"upstream.realm", "Kerberos realm for a bare --user"},
      {"upstream.keytab", "client keytab: ferry gets and renews its own Kerberos tickets"},
      {"upstream.user", "user name for upstream proxy authentication"},
      {"upstream.password_file", "file holding the upstream password (mode 600); prompted on a terminal otherwise"},
      {"upstream.auth_allow_basic_fallback",
       "let auto answer with Basic (the password in cleartext) over an http:// upstream when Negotiate fails"},
      {"upstream.require_mutual_auth", "refuse a Negotiate success without the proxy's mutual-auth token"},
      {"upstream.ca", "CA bundle (PEM) to verify https:// upstream proxies (default: system trust)"},
      {"interception.ca_dir", "interception CA directory (default $XDG_DATA_HOME/ferry/ca; made by 'ferry ca init')"},
      {"interception.origin_ca", "CA bundle (PEM) to verify the origins of intercepted hosts (default: system trust)"},
      {"interception.leaf_key_per_host", "a key per intercepted host instead of one shared leaf key"},
      {"interception.leaf_cache_size", "leaf certificates kept, least recently used dropped first (default 1024)"},
      {"interception.request_log", "JSON-lines log of intercepted requests, credentials redacted (mode 600)"},
      {"interception.request_log_bodies", "with --request-log: also the first 8 KiB of each body"},
      {"security.client_tokens",
       "file of client tokens ('TOKEN [PROFILE]' per line): clients must send one as the proxy password or Bearer"},
      {"admin", "admin listener: a unix socket path or loopback HOST:PORT (runs API, health)"},
      {"admin_token", "file holding the bearer token the admin listener's TCP /v1 routes require"},
      {"routing.no_proxy", "bypass list with curl NO_PROXY semantics (suffix, *, IP, CIDR, :port)"},
      {"routing.no_proxy_exact", "bypass list matched exactly (host or host:port), checked first"},
  };
  return help;
}

struct CommandOptions {
  std::string config_file;
  bool debug = false;
  std::vector<std::pair<const KnownKey*, CLI::Option*>> settings;
  std::vector<std::unique_ptr<std::vector<std::string>>> storage;
};

void add_setting_flag(CLI::App& cmd, CommandOptions& opts, const KnownKey& key) {
  auto it = flag_help().find(key.toml_key);
  std::string help = it != flag_help().end() ? std::string(it->second) : "(not supported by this version yet)";
  if (is_switch_key(key.toml_key)) {
    opts.settings.emplace_back(&key, cmd.add_flag(std::string(key.flag))->description(help));
    return;
  }
  opts.storage.push_back(std::make_unique<std::vector<std::string>>());
  auto* opt = cmd.add_option(std::string(key.flag), *opts.storage.back(), help)
                  ->expected(1)
                  ->allow_extra_args(false)
                  ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
                  ->option_text("VALUE");
  opts.settings.emplace_back(&key, opt);
}

void add_config_flag(CLI::App& cmd, CommandOptions& opts) {
  cmd.add_option("--config", opts.config_file, "TOML configuration file (flags override it)")->option_text("FILE");
}

void add_setting_flags(CLI::App& cmd, CommandOptions& opts) {
  add_config_flag(cmd, opts);
  cmd.add_flag("--debug", opts.debug, "same as --log-level debug");
  for (const auto& key : known_keys())
    if (!key.flag.empty()) add_setting_flag(cmd, opts, key);
}

// `ferry ca` reads only where the CA lives: --config's interception.ca_dir, or --ca-dir.
void add_ca_flags(CLI::App& cmd, CommandOptions& opts) {
  add_config_flag(cmd, opts);
  for (const auto& key : known_keys())
    if (key.toml_key == "interception.ca_dir") add_setting_flag(cmd, opts, key);
}

// Applies the file, then the flags given, so flags win.
Expected<Config> build_config(CommandOptions& opts) {
  ConfigBuilder builder;
  if (!opts.config_file.empty()) {
    auto loaded = builder.load_toml(opts.config_file);
    if (!loaded) return fail(loaded.error());
  }
  for (auto& [key, opt] : opts.settings) {
    if (opt->count() == 0) continue;
    auto values = is_switch_key(key->toml_key) ? std::vector<std::string>{"true"} : opt->as<std::vector<std::string>>();
    auto r = builder.set(key->toml_key, SettingValue{values, std::string(key->flag)});
    if (!r) return fail(r.error());
  }
  if (opts.debug) builder.config().log_level = LogLevel::debug;
  return builder.finish();
}

bool tunnel_opts_listen_missing(const CommandOptions& opts) {
  for (const auto& [key, opt] : opts.settings)
    if (key->toml_key == "listen") return opt->count() == 0;
  return true;
}

}  // namespace

int run_cli(int argc, char** argv) {
  // `ferry` alone, or `ferry --flag ...`, means `ferry serve ...`.
  std::vector<std::string> args(argv + 1, argv + argc);
  static const std::vector<std::string> commands = {"serve", "help",  "connect", "tunnel", "route",
                                                    "check", "token", "env",     "ca",     "run"};
  bool has_command = !args.empty() && std::find(commands.begin(), commands.end(), args[0]) != commands.end();
  bool top_level_flag =
      !args.empty() && (args[0] == "--version" || args[0] == "-V" || args[0] == "--help" || args[0] == "-h");
  if (!has_command && !top_level_flag) args.insert(args.begin(), "serve");

  CLI::App app{"ferry: a local egress proxy for enterprise networks", "ferry"};
  app.set_version_flag("--version,-V", std::string("ferry ") + FERRY_VERSION);
  app.require_subcommand(0, 1);

  CommandOptions serve_opts, route_opts, env_opts, connect_opts, tunnel_opts, check_opts, token_opts;
  auto* serve = app.add_subcommand("serve", "run the proxy (the default command)");
  add_setting_flags(*serve, serve_opts);

  std::string route_url;
  bool route_json = false;
  auto* route = app.add_subcommand("route", "print the route ferry would take for URL (or HOST:PORT) and why");
  add_setting_flags(*route, route_opts);
  route->add_option("url", route_url, "http:// or https:// URL, or HOST:PORT for a tunnel")->required();
  route->add_flag("--json", route_json, "machine-readable output");

  auto* env = app.add_subcommand("env", "print shell exports (HTTP_PROXY, ...) that point at ferry");
  add_setting_flags(*env, env_opts);

  std::string connect_target;
  auto* connect =
      app.add_subcommand("connect", "relay stdin/stdout to HOST:PORT along ferry's route (ssh ProxyCommand)");
  add_setting_flags(*connect, connect_opts);
  connect->add_option("target", connect_target, "HOST:PORT")->required();

  std::string tunnel_target;
  auto* tunnel = app.add_subcommand("tunnel", "listen (--listen ADDR) and carry every connection to HOST:PORT");
  add_setting_flags(*tunnel, tunnel_opts);
  tunnel->add_option("target", tunnel_target, "HOST:PORT")->required();

  std::vector<std::string> help_topic;
  auto* help = app.add_subcommand("help", "show help for a command");
  help->add_option("command", help_topic);

  auto* check = app.add_subcommand("check", "diagnose: config, Kerberos credentials, each upstream and its auth");
  add_setting_flags(*check, check_opts);
  auto* token = app.add_subcommand("token", "print one Negotiate header value (for --spn or the upstream's host)");
  add_setting_flags(*token, token_opts);

  CommandOptions ca_opts;
  std::string ca_action;
  auto* ca = app.add_subcommand("ca", "interception CA: init (make or keep), show, export (PEM), install-hint");
  add_ca_flags(*ca, ca_opts);
  ca->add_option("action", ca_action, "init, show, export or install-hint")
      ->required()
      ->check(CLI::IsMember(ca_actions()));

  RunOptions run_opts;
  auto* run_cmd = app.add_subcommand("run",
                                     "register a run with the serving ferry, run COMMAND with its proxy "
                                     "environment, delete the run when COMMAND exits");
  run_cmd->add_option("--profile", run_opts.profile, "the run's [profiles.NAME] (default: the global rules)")
      ->option_text("NAME");
  run_cmd
      ->add_option("--admin", run_opts.admin,
                   "the serving ferry's admin listener (default "
                   "$XDG_RUNTIME_DIR/ferry/admin.sock)")
      ->option_text("ADDR");
  run_cmd->add_option("--admin-token", run_opts.admin_token_file, "file holding the admin token (TCP listener)")
      ->option_text("FILE");
  run_cmd->add_option("--ttl", run_opts.ttl, "the run's lifetime, e.g. 30m (default 1h)")->option_text("DURATION");
  run_cmd->add_option("command", run_opts.command, "COMMAND and its arguments, after --")->required();

  std::reverse(args.begin(), args.end());  // CLI11 takes the vector reversed
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "ferry: " << e.what() << "\nRun 'ferry help' for usage.\n";
    return kUsageError;
  }

  if (*help) {
    if (help_topic.empty()) {
      // app.help() would describe the selected subcommand (`help` itself).
      std::cout << app.get_formatter()->make_help(&app, "ferry", CLI::AppFormatMode::Normal);
      return 0;
    }
    for (auto* sub : app.get_subcommands({})) {
      if (sub->get_name() == help_topic.front()) {
        std::cout << sub->help();
        return 0;
      }
    }
    std::cerr << "ferry: no such command '" << help_topic.front() << "'\n";
    return kUsageError;
  }

  auto run = [](CommandOptions& opts, const char* name, auto&& body) -> int {
    auto config = build_config(opts);
    if (!config) {
      std::cerr << "ferry" << (std::string_view(name) == "serve" ? "" : std::string(" ") + name) << ": "
                << config.error() << "\n";
      return kUsageError;
    }
    return body(*config);
  };
  if (*route) return run(route_opts, "route", [&](const Config& c) { return run_route(c, route_url, route_json); });
  if (*env) return run(env_opts, "env", [&](const Config& c) { return run_env(c); });
  if (*check) return run(check_opts, "check", [&](const Config& c) { return run_check(c); });
  if (*token) return run(token_opts, "token", [&](const Config& c) { return run_token(c); });
  if (*run_cmd) return run_command(run_opts);
  if (*ca) return run(ca_opts, "ca", [&](const Config& c) { return run_ca(c, ca_action, process_env()); });
  if (*connect) return run(connect_opts, "connect", [&](const Config& c) { return run_connect(c, connect_target); });
  if (*tunnel) {
    if (tunnel_opts_listen_missing(tunnel_opts)) {
      std::cerr << "ferry tunnel: --listen ADDR is required\n";
      return kUsageError;
    }
    auto target = parse_host_port(tunnel_target);
    if (!target) {
      std::cerr << "ferry tunnel: '" << redact_userinfo(tunnel_target) << "': " << target.error() << "\n";
      return kUsageError;
    }
    return run(tunnel_opts, "tunnel", [&](const Config& c) {
      Config with_target = c;
      with_target.tunnel_target = *target;
      return run_serve(with_target);
    });
  }
  return run(serve_opts, "serve", [](const Config& c) { return run_serve(c); });
}

}  // namespace ferry
