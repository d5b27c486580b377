#include "server/runs_setup.h"

#include "admin/admin_address.h"
#include "config/inject_config.h"
#include "config/policy_config.h"
#include "control/client_environment.h"
#include "control/control_api.h"
#include "policy/network_policy.h"

namespace ferry {

namespace {

// Any "${" in the inline rules' strings: a reference, not a literal.
bool holds_reference(const toml::node& node) {
  if (auto s = node.as_string()) return s->get().find("${") != std::string::npos;
  if (auto a = node.as_array()) {
    for (const auto& el : *a)
      if (holds_reference(el)) return true;
  }
  if (auto t = node.as_table()) {
    for (const auto& [k, v] : *t)
      if (holds_reference(v)) return true;
  }
  return false;
}

std::string owner_id(const Run& run) { return "run:" + run.id; }

awaitable<void> expire_runs(RunRegistry& registry, ClientTokenStore& tokens) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await timer.async_wait(nothrow_awaitable);
    if (ec) co_return;
    const auto now = std::chrono::steady_clock::now();
    registry.expire(now);  // revokes through the hooks
    tokens.purge_expired(now);
  }
}

}  // namespace

void RunsRuntime::stop(asio::io_context& control) {
  if (admin) admin->stop();
  control.restart();
  control.poll();
}

Expected<ProfilePtr> make_run_profile(const Config& config, const RunSpec& spec, const std::string& run_id,
                                      bool interception) {
  auto profile = std::make_shared<Profile>();
  if (!spec.profile.empty()) {
    auto it = config.profiles.find(spec.profile);
    if (it == config.profiles.end()) return fail("profile: '" + spec.profile + "' is not in the configuration");
    *profile = *it->second;
  } else {
    profile->rules = config.inject;  // no profile named: the global rules, plus the inline ones
  }
  profile->id = "run:" + run_id;
  if (spec.inject) {
    if (holds_reference(*spec.inject))
      return fail(
          "inject: inline rules take literal values only (${env:}, ${file:} and ${exec:} belong in the "
          "configuration file's profiles)");
    const SecretValue::EnvLookup no_env = [](const std::string&) -> std::optional<std::string> { return {}; };
    auto rules = load_inject_rules(*spec.inject, "POST /v1/runs", no_env, profile->rules.size() + 1);
    if (!rules) return fail(rules.error());
    if (!rules->empty() && !interception)
      return fail("inject: this ferry has no interception CA (make one with 'ferry ca init' and restart it)");
    profile->rules.insert(profile->rules.end(), rules->begin(), rules->end());
  }
  if (spec.policy) {
    auto policy = parse_policy(*spec.policy, *config.grants, "policy");
    if (!policy) return fail(policy.error());
    profile->policy = std::move(*policy);
  }
  return ProfilePtr(std::move(profile));
}

Expected<std::unique_ptr<RunsRuntime>> start_runs(const Config& config, ClientTokenStore& tokens, ProxyServer& server,
                                                  const std::string& ca_dir, EventLog& log) {
  if (config.admin.empty()) return std::unique_ptr<RunsRuntime>{};
  auto address = parse_admin_address(config.admin);
  if (!address) return fail("--admin " + config.admin + ": " + address.error());
  std::optional<Secret> admin_token;
  if (!config.admin_token_file.empty()) {
    auto t = read_admin_token(config.admin_token_file);
    if (!t) return fail(t.error());
    admin_token = std::move(*t);
  }

  auto rt = std::make_unique<RunsRuntime>();
  const bool interception = !ca_dir.empty();
  RunHooks hooks;
  hooks.make_profile = [&config, interception](const RunSpec& spec, const std::string& id) {
    return make_run_profile(config, spec, id, interception);
  };
  hooks.activated = [&tokens, &log](const Run& run, const std::string& token) {
    auto owner = std::make_shared<TokenOwner>();
    owner->id = owner_id(run);
    owner->profile = run.profile_name;
    owner->run_profile = run.profile;
    owner->expires = run.deadline;
    if (auto added = tokens.add(token, std::move(owner)); !added)
      log.log(LogLevel::error, "run_token_not_added", {{"run", run.id}, {"details", added.error()}});
    else log.log(LogLevel::info, "run_created", {{"run", run.id}, {"profile", run.profile_name}});
  };
  hooks.revoked = [&tokens, &server, &log](const Run& run) {
    tokens.remove_owner(owner_id(run));
    server.close_client_sessions(owner_id(run));
    log.log(LogLevel::info, "run_ended", {{"run", run.id}});
  };
  rt->registry = std::make_unique<RunRegistry>(std::move(hooks));

  ControlContext context;
  const auto& bound = server.bound();
  auto address_of = [](const tcp::endpoint& ep) {
    return client_address(HostPort{ep.address().to_string(), ep.port()});
  };
  if (!bound.empty()) context.proxy_address = address_of(bound.front());
  if (!config.socks_listen.empty() && bound.size() > config.listen.size())
    context.socks_address = address_of(bound[config.listen.size()]);
  context.ca_dir = ca_dir;

  AdminRoutes routes;
  add_health_route(routes);
  add_control_routes(routes, *rt->registry, std::move(context));
  AdminServerOptions options;
  options.address = std::move(*address);
  options.token = std::move(admin_token);
  options.log = &log;
  auto admin = AdminServer::open(server.control().get_executor(), std::move(options), std::move(routes));
  if (!admin) return fail("--admin " + config.admin + ": " + admin.error());
  rt->admin = std::move(*admin);
  asio::co_spawn(server.control(), serve_admin(*rt->admin), asio::detached);
  asio::co_spawn(server.control(), expire_runs(*rt->registry, tokens), asio::detached);
  return rt;
}

}  // namespace ferry
