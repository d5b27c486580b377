#pragma once
// A real RunRegistry (its hooks record the live tokens) behind a real
// AdminServer on its own io_context thread, in a temporary directory.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/bind_cancellation_slot.hpp>

#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "admin/admin_client.h"
#include "admin/admin_server.h"

namespace ferry::admin_test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline constexpr Millis kTimeout = 5s;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/ferry_admin_test_XXXXXX";
    EXPECT_NE(::mkdtemp(tmpl), nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

inline mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class AdminFixture : public ::testing::Test {
 protected:
  std::mutex mutex_;
  std::map<std::string, std::string> live_;  // run id → token, while the run lives
  std::vector<std::string> activated_;       // every token ever activated
  RunRegistry registry_{hooks()};
  TempDir dir_;
  asio::io_context io_;
  asio::cancellation_signal cancel_;
  std::unique_ptr<AdminServer> server_;
  std::thread thread_;
  bool served_out_ = false;

  RunHooks hooks() {
    RunHooks h;
    h.make_profile = [](const RunSpec&, const std::string& id) -> Expected<ProfilePtr> {
      auto p = std::make_shared<Profile>();
      p->id = "run:" + id;
      return ProfilePtr(p);
    };
    h.activated = [this](const ferry::Run& run, const std::string& token) {
      std::lock_guard lock(mutex_);
      live_[run.id] = token;
      activated_.push_back(token);
    };
    h.revoked = [this](const ferry::Run& run) {
      std::lock_guard lock(mutex_);
      live_.erase(run.id);
    };
    return h;
  }

  Expected<bool> start(AdminServerOptions options) {
    AdminRoutes routes;
    add_health_route(routes);
    ControlContext ctx;
    ctx.proxy_address = "127.0.0.1:3128";
    add_control_routes(routes, registry_, ctx);
    auto opened = AdminServer::open(io_.get_executor(), std::move(options), std::move(routes));
    if (!opened) return fail(opened.error());
    server_ = std::move(*opened);
    asio::co_spawn(io_, serve_and_note(), asio::bind_cancellation_slot(cancel_.slot(), asio::detached));
    thread_ = std::thread([this] { io_.run(); });
    return true;
  }

  awaitable<void> serve_and_note() {
    co_await serve_admin(*server_);
    served_out_ = true;
  }

  // Cancels serve() as the lead's shutdown will, and waits for it.
  void stop() {
    if (!thread_.joinable()) return;
    asio::post(io_, [this] { cancel_.emit(asio::cancellation_type::terminal); });
    thread_.join();
  }

  void TearDown() override { stop(); }

  std::string socket_path() const { return (dir_.path / "run" / "ferry" / "admin.sock").string(); }

  AdminServerOptions unix_options() {
    AdminServerOptions o;
    o.address.unix_path = socket_path();
    o.request_timeout = 2s;
    return o;
  }

  AdminReply call(std::string_view method, std::string_view target, std::string_view body = {},
                  const Secret* token = nullptr) {
    auto r = admin_call(server_->address(), method, target, body, token, kTimeout);
    EXPECT_TRUE(r) << (r ? "" : r.error());
    return r ? std::move(*r) : AdminReply{};
  }
};

}  // namespace ferry::admin_test
