// The admin listener on real sockets: a unix socket in a temp directory
// (mode, stale files, removal), TCP with the admin token, HTTP/1.1
// framing (keep-alive, Content-Length only, 100-continue, HEAD, limits,
// timeouts) and the runs API end to end with a real RunRegistry.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "admin/admin_client.h"
#include "admin/admin_http.h"
#include "admin/admin_server.h"
#include "admin_fixture.h"

namespace ferry {
namespace {

using namespace admin_test;
namespace json = boost::json;
using namespace std::chrono_literals;

// Everything the server sends until it closes.
template <class Socket>
std::string read_all(Socket& s) {
  std::string out;
  char buf[4096];
  error_code ec;
  while (!ec) {
    size_t n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
  }
  return out;
}

// Sends raw bytes on the unix socket (then, with `half_close`, EOF) and
// reads until the server closes.
std::string raw_unix(const std::string& path, const std::string& bytes, bool half_close = true) {
  asio::io_context io;
  asio::local::stream_protocol::socket s(io);
  s.connect(asio::local::stream_protocol::endpoint(path));
  error_code ec;
  asio::write(s, asio::buffer(bytes), ec);  // the server may answer (and stop reading) early
  if (half_close) s.shutdown(asio::socket_base::shutdown_send, ec);
  return read_all(s);
}

size_t count(std::string_view hay, std::string_view needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(AdminFixture, UnixSocketServesTheRunsApi) {
  ASSERT_TRUE(start(unix_options()));
  // Private: the socket 0600, the directories ferry made 0700.
  EXPECT_EQ(mode_of(socket_path()), 0600u);
  EXPECT_EQ(mode_of(dir_.path / "run" / "ferry"), 0700u);
  EXPECT_EQ(mode_of(dir_.path / "run"), 0700u);

  auto health = call("GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");

  auto created = call("POST", "/v1/runs", R"({"profile": "ci", "ttl": "5m"})");
  ASSERT_EQ(created.status, 201) << created.body;
  auto o = json::parse(created.body).as_object();
  const std::string id(o.at("id").as_string()), token(o.at("token").as_string());
  {
    std::lock_guard lock(mutex_);
    EXPECT_EQ(live_.at(id), token);
  }
  auto listed = call("GET", "/v1/runs");
  EXPECT_EQ(listed.status, 200);
  EXPECT_NE(listed.body.find(id), std::string::npos);
  EXPECT_EQ(listed.body.find(token), std::string::npos);
  EXPECT_EQ(call("GET", "/v1/runs/" + id).status, 200);
  EXPECT_EQ(call("DELETE", "/v1/runs/" + id).status, 204);
  EXPECT_EQ(call("GET", "/v1/runs/" + id).status, 404);
  EXPECT_EQ(call("GET", "/nothing").status, 404);
  EXPECT_EQ(registry_.size(), 0u);
  {
    std::lock_guard lock(mutex_);
    EXPECT_TRUE(live_.empty());
  }
  stop();
  EXPECT_TRUE(served_out_);
  EXPECT_FALSE(fs::exists(socket_path()));  // removed at stop
}

// A real client: curl over the unix socket, a POST then a GET on one
// connection (curl reuses it), and a DELETE.
TEST_F(AdminFixture, CurlTalksToItOverTheUnixSocket) {
  ASSERT_TRUE(start(unix_options()));
  const auto out = dir_.path / "curl.out";
  const std::string curl = "curl -sS --max-time 10 --unix-socket " + socket_path();  // --next resets it
  const std::string cmd = curl + " -o " + out.string() + " -w '%{http_code} %{num_connects}\\n'" +
                          " -H 'Content-Type: application/json' -d '{\"profile\": \"ci\"}' http://ferry/v1/runs" +
                          " --next --unix-socket " + socket_path() +
                          " -o /dev/null -w '%{http_code} %{num_connects}\\n' http://ferry/v1/runs";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char line[256];
  std::string printed;
  while (std::fgets(line, sizeof line, p)) printed += line;
  EXPECT_EQ(::pclose(p), 0) << printed;
  EXPECT_EQ(printed, "201 1\n200 0\n");  // the GET rode the POST's connection
  std::ifstream in(out);
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string id(json::parse(body).at("id").as_string());
  EXPECT_EQ(std::system((curl + " -f -X DELETE http://ferry/v1/runs/" + id).c_str()), 0);
  EXPECT_EQ(registry_.size(), 0u);
}

TEST_F(AdminFixture, KeepAliveServesSeveralRequestsOnOneConnection) {
  ASSERT_TRUE(start(unix_options()));
  const std::string body = R"({"profile": "ci"})";
  auto out = raw_unix(socket_path(),
                      "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
                      "POST /v1/runs HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body +
                          "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
                          "GET /v1/runs HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(count(out, "HTTP/1.1 200 OK\r\n"), 3u) << out;
  EXPECT_EQ(count(out, "HTTP/1.1 201 Created\r\n"), 1u) << out;
  EXPECT_EQ(count(out, "ok\n"), 1u) << out;  // HEAD: no body
  EXPECT_EQ(count(out, "Connection: close\r\n"), 1u) << out;
  EXPECT_EQ(registry_.size(), 1u);
}

TEST_F(AdminFixture, FramingErrorsAreAnsweredAndClose) {
  ASSERT_TRUE(start(unix_options()));
  auto chunked =
      raw_unix(socket_path(),
               "POST /v1/runs HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.rfind("HTTP/1.1 411 ", 0), 0u) << chunked;
  EXPECT_EQ(count(chunked, "HTTP/1.1"), 1u) << chunked;

  // Too large: answered from the head, before any body byte is read.
  auto big = raw_unix(socket_path(), "POST /v1/runs HTTP/1.1\r\nHost: a\r\nContent-Length: 1048577\r\n\r\n");
  EXPECT_EQ(big.rfind("HTTP/1.1 413 ", 0), 0u) << big;
  EXPECT_NE(big.find("\"error\""), std::string::npos) << big;

  auto bad = raw_unix(socket_path(), "GET /healthz HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n");
  EXPECT_EQ(bad.rfind("HTTP/1.1 400 ", 0), 0u) << bad;
  auto no_host = raw_unix(socket_path(), "GET /healthz HTTP/1.1\r\n\r\n");
  EXPECT_EQ(no_host.rfind("HTTP/1.1 400 ", 0), 0u) << no_host;
  auto absolute = raw_unix(socket_path(), "GET http://a/healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(absolute.rfind("HTTP/1.1 400 ", 0), 0u) << absolute;
  auto huge_head =
      raw_unix(socket_path(), "GET /healthz HTTP/1.1\r\nHost: a\r\nX: " + std::string(70'000, 'a') + "\r\n\r\n");
  EXPECT_EQ(huge_head.rfind("HTTP/1.1 431 ", 0), 0u) << huge_head.substr(0, 200);
  auto bad_method = raw_unix(socket_path(), "PATCH /v1/runs HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(bad_method.rfind("HTTP/1.1 405 ", 0), 0u) << bad_method;
  EXPECT_NE(bad_method.find("Allow: GET, POST\r\n"), std::string::npos) << bad_method;
  EXPECT_EQ(registry_.size(), 0u);
}

TEST_F(AdminFixture, ExpectContinueGetsA100) {
  ASSERT_TRUE(start(unix_options()));
  asio::io_context io;
  asio::local::stream_protocol::socket s(io);
  s.connect(asio::local::stream_protocol::endpoint(socket_path()));
  const std::string body = R"({"profile": "ci"})";
  asio::write(s, asio::buffer("POST /v1/runs HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nConnection: close\r\n"
                              "Content-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n"));
  char buf[256];
  const size_t n = s.read_some(asio::buffer(buf));
  EXPECT_EQ(std::string(buf, n), "HTTP/1.1 100 Continue\r\n\r\n");
  asio::write(s, asio::buffer(body));
  const std::string rest = read_all(s);
  EXPECT_EQ(rest.rfind("HTTP/1.1 201 ", 0), 0u) << rest;
}

TEST_F(AdminFixture, AStalledRequestTimesOutWith408) {
  auto o = unix_options();
  o.request_timeout = 300ms;
  ASSERT_TRUE(start(std::move(o)));
  const auto t0 = std::chrono::steady_clock::now();
  auto out = raw_unix(socket_path(), "POST /v1/runs HTTP/1.1\r\nHost: a\r\nContent-Length: 50\r\n\r\n{\"pro", false);
  EXPECT_EQ(out.rfind("HTTP/1.1 408 ", 0), 0u) << out;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  // A connection that sends nothing is closed at the timeout, unanswered.
  asio::io_context io;
  asio::local::stream_protocol::socket s(io);
  s.connect(asio::local::stream_protocol::endpoint(socket_path()));
  const auto t1 = std::chrono::steady_clock::now();
  char buf[64];
  error_code ec;
  const size_t n = s.read_some(asio::buffer(buf), ec);
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_EQ(n, 0u);
  EXPECT_GE(std::chrono::steady_clock::now() - t1, 250ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 3s);
}

TEST_F(AdminFixture, AStaleSocketFileIsReplaced) {
  fs::create_directories(dir_.path / "run" / "ferry");
  {
    // A socket file nobody accepts on (a ferry that was killed).
    asio::io_context io;
    asio::local::stream_protocol::acceptor a(io, asio::local::stream_protocol::endpoint(socket_path()));
  }
  ASSERT_TRUE(fs::exists(socket_path()));
  auto started = start(unix_options());
  ASSERT_TRUE(started) << started.error();
  EXPECT_EQ(call("GET", "/healthz").status, 200);
}

TEST_F(AdminFixture, ALiveSocketOrAnotherFileIsNotReplaced) {
  ASSERT_TRUE(start(unix_options()));
  // A second server on the same path: refused, the first keeps serving.
  asio::io_context other;
  auto second = AdminServer::open(other.get_executor(), unix_options(), AdminRoutes{});
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().find("another process"), std::string::npos) << second.error();
  EXPECT_EQ(call("GET", "/healthz").status, 200);

  const std::string file = (dir_.path / "not-a-socket").string();
  std::ofstream(file) << "precious";
  AdminServerOptions o;
  o.address.unix_path = file;
  auto third = AdminServer::open(other.get_executor(), o, AdminRoutes{});
  ASSERT_FALSE(third);
  EXPECT_NE(third.error().find("not a socket"), std::string::npos) << third.error();
  std::ifstream in(file);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
}

TEST_F(AdminFixture, TcpNeedsTheAdminTokenForRuns) {
  AdminServerOptions o;
  o.address.tcp_endpoint = tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
  o.token = Secret("admin-secret-token");
  ASSERT_TRUE(start(std::move(o)));
  ASSERT_NE(server_->address().tcp_endpoint->port(), 0);

  auto none = call("POST", "/v1/runs", R"({"profile": "ci"})");
  EXPECT_EQ(none.status, 401);
  const Secret wrong("admin-secret-tokeN"), prefix("admin-secret"), right("admin-secret-token");
  EXPECT_EQ(call("POST", "/v1/runs", R"({"profile": "ci"})", &wrong).status, 401);
  EXPECT_EQ(call("GET", "/v1/runs", {}, &prefix).status, 401);
  EXPECT_EQ(registry_.size(), 0u);
  EXPECT_EQ(call("GET", "/healthz").status, 200);  // open without the token
  auto created = call("POST", "/v1/runs", R"({"profile": "ci"})", &right);
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(call("GET", "/v1/runs", {}, &right).status, 200);
  EXPECT_EQ(registry_.size(), 1u);
}

// A refusal sent while the body is still arriving reaches the client. (The
// server reads and discards the rest before closing, for clients whose
// stack drops received data on a reset; Linux's keeps it, so this test
// passes without that too.)
TEST_F(AdminFixture, ARefusalBeforeTheBodyReachesTheClient) {
  AdminServerOptions o;
  o.address.tcp_endpoint = tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
  ASSERT_TRUE(start(std::move(o)));
  for (int i = 0; i < 5; ++i) {
    asio::io_context io;
    tcp::socket s(io);
    s.connect(*server_->address().tcp_endpoint);
    error_code ec;
    asio::write(s, asio::buffer("POST /v1/runs HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n"), ec);
    const std::string body(2'000'000, 'x');
    asio::write(s, asio::buffer(body), ec);
    const std::string out = read_all(s);
    EXPECT_EQ(out.rfind("HTTP/1.1 413 ", 0), 0u) << i << ": " << out;
  }
}

TEST_F(AdminFixture, TcpWithoutATokenNeverServesRuns) {
  AdminServerOptions o;
  o.address.tcp_endpoint = tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0);
  ASSERT_TRUE(start(std::move(o)));
  auto r = call("POST", "/v1/runs", R"({"profile": "ci"})");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("--admin-token"), std::string::npos) << r.body;
  EXPECT_EQ(call("GET", "/healthz").status, 200);
}

TEST(AdminServer, ANonLoopbackTcpAddressNeedsAToken) {
  asio::io_context io;
  AdminServerOptions o;
  o.address.tcp_endpoint = tcp::endpoint(asio::ip::make_address("0.0.0.0"), 0);
  auto r = AdminServer::open(io.get_executor(), o, AdminRoutes{});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("--admin-token"), std::string::npos) << r.error();
}

TEST(AdminServer, ParseAdminAddress) {
  auto u = parse_admin_address("/run/user/1000/ferry/admin.sock");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->is_unix());
  EXPECT_EQ(u->to_string(), "/run/user/1000/ferry/admin.sock");
  auto rel = parse_admin_address("./admin.sock");
  ASSERT_TRUE(rel);
  EXPECT_TRUE(rel->is_unix());
  auto t = parse_admin_address("127.0.0.1:9090");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->is_unix());
  EXPECT_TRUE(t->is_loopback());
  EXPECT_EQ(t->to_string(), "127.0.0.1:9090");
  auto v6 = parse_admin_address("[::1]:9090");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->to_string(), "[::1]:9090");
  auto local = parse_admin_address("localhost:9090");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->to_string(), "127.0.0.1:9090");
  auto any = parse_admin_address("0.0.0.0:9090");
  ASSERT_TRUE(any);
  EXPECT_FALSE(any->is_loopback());
  EXPECT_FALSE(parse_admin_address(""));
  EXPECT_FALSE(parse_admin_address("example.com:9090"));
  EXPECT_FALSE(parse_admin_address("127.0.0.1"));
  EXPECT_FALSE(parse_admin_address("/" + std::string(200, 'a')));
}

TEST(AdminServer, DefaultSocketNeedsAnAbsoluteXdgRuntimeDir) {
  auto env = [](std::optional<std::string> v) {
    return GetEnv([v](const std::string& name) { return name == "XDG_RUNTIME_DIR" ? v : std::nullopt; });
  };
  EXPECT_EQ(*default_admin_socket(env("/run/user/1000")), "/run/user/1000/ferry/admin.sock");
  EXPECT_FALSE(default_admin_socket(env(std::nullopt)));
  EXPECT_FALSE(default_admin_socket(env("relative")));
}

TEST(AdminServer, BearerMatchesExactlyOneAuthorizationField) {
  const Secret token("s3cret");
  using F = std::vector<http::HeaderField>;
  EXPECT_TRUE(bearer_matches(F{{"Authorization", "Bearer s3cret"}}, token));
  EXPECT_TRUE(bearer_matches(F{{"authorization", "bearer s3cret"}}, token));
  EXPECT_FALSE(bearer_matches(F{{"Authorization", "Bearer s3cre"}}, token));
  EXPECT_FALSE(bearer_matches(F{{"Authorization", "Bearer s3cretX"}}, token));
  EXPECT_FALSE(bearer_matches(F{{"Authorization", "Basic s3cret"}}, token));
  EXPECT_FALSE(bearer_matches(F{{"Authorization", "Bearer"}}, token));
  EXPECT_FALSE(bearer_matches(F{}, token));
  EXPECT_FALSE(bearer_matches(F{{"Authorization", "Bearer s3cret"}, {"Authorization", "Bearer s3cret"}}, token));
  EXPECT_FALSE(bearer_matches(F{{"Authorization", "Bearer "}}, Secret("")));
}

TEST(AdminServer, ReadAdminTokenNamesItsFlag) {
  TempDir dir;
  const std::string path = (dir.path / "token").string();
  std::ofstream(path) << "tok-123\n";
  ::chmod(path.c_str(), 0644);
  auto open = read_admin_token(path);
  ASSERT_FALSE(open);
  EXPECT_NE(open.error().find("--admin-token"), std::string::npos) << open.error();
  EXPECT_EQ(open.error().find("tok-123"), std::string::npos);
  ::chmod(path.c_str(), 0600);
  auto ok = read_admin_token(path);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_EQ(ok->view(), "tok-123");
}

}  // namespace
}  // namespace ferry
