#include "app/run_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>

#include "admin/admin_client.h"
#include "control/go_duration.h"

extern char** environ;

namespace ferry {

namespace {

namespace json = boost::json;

constexpr int kAdminError = 2;
constexpr int kCannotRun = 127;
constexpr Millis kAdminTimeout = std::chrono::seconds(10);

struct Registered {
  std::string id;
  std::map<std::string, Secret> env;  // values hold the token (proxy URLs)
};

std::string error_of(const AdminReply& reply) {
  json::error_code ec;
  auto v = json::parse(reply.body, ec);
  if (!ec && v.is_object())
    if (auto* e = v.get_object().if_contains("error"); e && e->is_string()) return std::string(e->get_string());
  return "HTTP " + std::to_string(reply.status);
}

Expected<Registered> register_run(const AdminAddress& admin, const Secret* token, const RunOptions& o) {
  json::object body;
  // Without --profile: a run with the global rules and policy (the API
  // wants one of profile, inject, policy; no inline rules is the global set).
  if (o.profile.empty()) body["inject"] = json::array();
  else body["profile"] = o.profile;
  if (!o.ttl.empty()) body["ttl"] = o.ttl;
  auto reply = admin_call(admin, "POST", "/v1/runs", json::serialize(body), token, kAdminTimeout);
  if (!reply) return fail(reply.error());
  if (reply->status != 201)
    return fail("the admin listener at " + admin.to_string() + " refused the run (" + std::to_string(reply->status) +
                "): " + error_of(*reply));
  json::error_code ec;
  json::monotonic_resource arena;
  auto v = json::parse(reply->body, ec, &arena);
  const json::object* o_json = !ec && v.is_object() ? &v.get_object() : nullptr;
  const json::value* id = o_json ? o_json->if_contains("id") : nullptr;
  const json::value* env = o_json ? o_json->if_contains("env") : nullptr;
  if (!id || !id->is_string() || !env || !env->is_object())
    return fail("the admin listener at " + admin.to_string() + " answered without a run id and env");
  Registered out;
  out.id = std::string(id->get_string());
  for (const auto& [name, value] : env->get_object())
    if (value.is_string()) out.env.emplace(std::string(name), Secret(std::string(value.get_string())));
  return out;
}

void remove_run(const AdminAddress& admin, const Secret* token, const std::string& id) {
  auto reply = admin_call(admin, "DELETE", "/v1/runs/" + id, {}, token, kAdminTimeout);
  if (!reply)
    std::cerr << "ferry run: could not delete run " << id << " (it expires at its TTL): " << reply.error() << "\n";
  else if (reply->status != 204 && reply->status != 404)
    std::cerr << "ferry run: could not delete run " << id << " (it expires at its TTL): " << error_of(*reply) << "\n";
}

// The current environment with the run's variables set over it.
std::vector<std::string> child_environment(const std::map<std::string, Secret>& run_env) {
  std::vector<std::string> out;
  for (char** e = environ; *e; ++e) {
    const std::string_view entry(*e);
    if (!run_env.count(std::string(entry.substr(0, entry.find('='))))) out.emplace_back(entry);
  }
  for (const auto& [name, value] : run_env) out.push_back(name + "=" + std::string(value.view()));
  return out;
}

// Starts COMMAND (PATH lookup) with `env` and the signal mask `mask`.
// An exec failure comes back through a close-on-exec pipe as its errno.
Expected<pid_t> start(const std::vector<std::string>& command, std::vector<std::string>& env, const sigset_t& mask) {
  std::vector<char*> argv, envp;
  for (const auto& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return fail(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return fail(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(pipefd[0]);
    ::sigprocmask(SIG_SETMASK, &mask, nullptr);
    ::execvpe(argv[0], argv.data(), envp.data());
    const int err = errno;
    [[maybe_unused]] auto n = ::write(pipefd[1], &err, sizeof err);
    ::_exit(kCannotRun);
  }
  ::close(pipefd[1]);
  int err = 0;
  ssize_t n;
  do n = ::read(pipefd[0], &err, sizeof err);
  while (n < 0 && errno == EINTR);
  ::close(pipefd[0]);
  if (n == sizeof err) {
    int status;
    ::waitpid(pid, &status, 0);
    return fail("cannot run " + command.front() + ": " + std::strerror(err));
  }
  return pid;
}

// Waits for the child, forwarding the termination signals ferry gets. Not
// those the terminal sent (si_code SI_KERNEL): the child, in the same
// process group, got them itself, and a second SIGINT makes some programs
// skip their cleanup.
int wait_forwarding(pid_t child, const sigset_t& handled) {
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      continue;
    }
    // With a timeout: in a process with other threads (tests) SIGCHLD may
    // go to one of them, so the child is also polled.
    siginfo_t info{};
    const timespec poll{0, 100'000'000};
    const int sig = ::sigtimedwait(&handled, &info, &poll);
    if (sig < 0 || sig == SIGCHLD) continue;
    if (info.si_code != SI_KERNEL) ::kill(child, sig);
  }
}

}  // namespace

int run_command(const RunOptions& o) {
  if (o.command.empty()) {
    std::cerr << "ferry run: no command given (ferry run --profile NAME -- COMMAND...)\n";
    return kAdminError;
  }
  if (!o.ttl.empty()) {
    if (auto ttl = parse_go_duration(o.ttl); !ttl) {
      std::cerr << "ferry run: --ttl " << ttl.error() << "\n";
      return kAdminError;
    }
  }
  std::string where = o.admin;
  if (where.empty()) {
    auto d = default_admin_socket(process_env());
    if (!d) {
      std::cerr << "ferry run: " << d.error() << "\n";
      return kAdminError;
    }
    where = *d;
  }
  auto admin = parse_admin_address(where);
  if (!admin) {
    std::cerr << "ferry run: " << admin.error() << "\n";
    return kAdminError;
  }
  std::optional<Secret> token;
  if (!o.admin_token_file.empty()) {
    auto t = read_admin_token(o.admin_token_file);
    if (!t) {
      std::cerr << "ferry run: " << t.error() << "\n";
      return kAdminError;
    }
    token = std::move(*t);
  }
  const Secret* bearer = token ? &*token : nullptr;

  // Blocked before the run exists: a SIGINT from here on reaches the
  // child (or ends the wait), and the run is always deleted.
  sigset_t handled, old;
  sigemptyset(&handled);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&handled, s);
  ::sigprocmask(SIG_BLOCK, &handled, &old);

  auto run = register_run(*admin, bearer, o);
  if (!run) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    std::cerr << "ferry run: " << run.error() << "\n";
    return kAdminError;
  }
  auto env = child_environment(run->env);
  auto child = start(o.command, env, old);
  for (auto& e : env) cleanse_string(e);
  run->env.clear();
  int code = kCannotRun;
  if (!child) std::cerr << "ferry run: " << child.error() << "\n";
  else code = wait_forwarding(*child, handled);
  remove_run(*admin, bearer, run->id);
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  return code;
}

}  // namespace ferry
