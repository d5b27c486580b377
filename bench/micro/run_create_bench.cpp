// Run creation (issue 9 item 8: at least 1,000 a second), at three depths:
// the registry alone (id, token, profile hook, activation), the control
// API (JSON in and out, env), and the whole path `ferry run` takes — a POST
// over the admin unix socket on a fresh connection. The profile hook is
// trivial here; the real one parses the run's inline rules.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <boost/asio/bind_cancellation_slot.hpp>

#include <filesystem>
#include <thread>

#include "admin/admin_client.h"
#include "admin/admin_server.h"
#include "control/control_api.h"

namespace {

using namespace ferry;

RunHooks bench_hooks() {
  RunHooks h;
  h.make_profile = [](const RunSpec&, const std::string& id) -> Expected<ProfilePtr> {
    auto p = std::make_shared<Profile>();
    p->id = "run:" + id;
    return ProfilePtr(p);
  };
  h.activated = [](const ferry::Run&, const std::string&) {};
  h.revoked = [](const ferry::Run&) {};
  return h;
}

RunLimits many() {
  RunLimits l;
  l.max_runs = 100'000'000;
  return l;
}

void BM_RegistryCreate(benchmark::State& state) {
  RunRegistry registry(bench_hooks(), many());
  RunSpec spec;
  spec.profile = "ci";
  for (auto _ : state) {
    auto c = registry.create(spec);
    if (!c) state.SkipWithError("create failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RegistryCreate)->Unit(benchmark::kMicrosecond);

void BM_ControlApiPost(benchmark::State& state) {
  RunRegistry registry(bench_hooks(), many());
  ControlContext ctx;
  ctx.proxy_address = "127.0.0.1:3128";
  ctx.ca_dir = "/var/lib/ferry/ca";
  const std::string body = R"({"profile": "ci", "ttl": "10m"})";
  for (auto _ : state) {
    auto r = handle_control({"POST", "/v1/runs", body, true}, registry, ctx);
    if (r.status != 201) state.SkipWithError("POST failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ControlApiPost)->Unit(benchmark::kMicrosecond);

// The server on its own thread, as in ferry; the client connects anew for
// every run, as `ferry run` does.
void BM_AdminSocketPost(benchmark::State& state) {
  char tmpl[] = "/tmp/ferry_run_bench_XXXXXX";
  if (!::mkdtemp(tmpl)) return state.SkipWithError("mkdtemp failed");
  const std::string dir = tmpl;
  RunRegistry registry(bench_hooks(), many());
  asio::io_context io;
  AdminServerOptions o;
  o.address.unix_path = dir + "/admin.sock";
  AdminRoutes routes;
  ControlContext ctx;
  ctx.proxy_address = "127.0.0.1:3128";
  add_control_routes(routes, registry, ctx);
  auto server = AdminServer::open(io.get_executor(), o, std::move(routes));
  if (!server) return state.SkipWithError(server.error().c_str());
  asio::cancellation_signal cancel;
  asio::co_spawn(io, (*server)->serve(), asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  std::thread t([&io] { io.run(); });
  const std::string body = R"({"profile": "ci", "ttl": "10m"})";
  for (auto _ : state) {
    auto r = admin_call((*server)->address(), "POST", "/v1/runs", body, nullptr, std::chrono::seconds(5));
    if (!r || r->status != 201) state.SkipWithError("POST failed");
  }
  state.SetItemsProcessed(state.iterations());
  asio::post(io, [&cancel] { cancel.emit(asio::cancellation_type::terminal); });
  t.join();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_AdminSocketPost)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
