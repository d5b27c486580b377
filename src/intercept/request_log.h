#pragma once
// The request log (`--request-log FILE`, SPEC §7): one JSON line per request
// ferry answers inside an intercepted tunnel (or a plain-HTTP request to a
// rule's host), in the spirit of moat's RequestLogData.
//
// Secrets never sit in the queue: submit() redacts on the caller's thread
// (credential headers, secret-ish query parameters and URL passwords, and
// every occurrence of the real credentials the caller names), then hands the
// entry to a bounded queue (bounded in entries and in bytes) drained by one
// writer thread. submit() never waits for the writer: when the queue is full
// the entry is dropped and counted, and the writer records the count in the
// file as {"time":...,"event":"request_log_dropped","count":N} once it has
// caught up (N: the drops since the previous note).
//
// A line:
//   {"time":"2026-12-03T15:36:15.123Z","event":"request","client":"127.0.0.1:40000",
//    "method":"GET","url":"https://api.example.com/x?token=[REDACTED]","status":200,
//    "duration_ms":12.500,"route":"direct","rule":1,"injected":true,
//    "injected_headers":["Authorization"],
//    "request_headers":[["Host","api.example.com"],["Authorization","[REDACTED]"]],
//    "response_headers":[["Content-Type","application/json"]],
//    "request_bytes":0,"response_bytes":2,"request_body":"","response_body":"{}"}
// The bodies only when the log has them; "error" only when there was one.
//
// Bytes in JSON. Head fields (url, headers, method, client, route, error) are
// JSON strings: well-formed UTF-8 passes through, control bytes and DEL are
// \u00XX escapes, and each byte that is not part of a well-formed UTF-8
// sequence becomes U+FFFD (lossy; HTTP heads are ASCII in practice). Body
// prefixes are lossless: a prefix that is well-formed UTF-8 is written as
// "request_body" (a multi-byte character cut by the 8 KiB limit is dropped
// from the end), any other prefix as "request_body_base64" (its exact
// bytes); the same for "response_body".
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/expected.h"

namespace ferry {

using RequestLogHeaders = std::vector<std::pair<std::string, std::string>>;

struct RequestLogEntry {
  std::chrono::system_clock::time_point time{};  // when the request arrived (unset: when submitted)
  std::string client;                            // "127.0.0.1:54321"
  std::string method;
  std::string url;  // absolute URL
  int status = 0;   // 0: no response
  double duration_ms = 0;
  std::string route;                  // "direct" or the upstream's redacted URL
  int rule = 0;                       // 1-based inject rule; 0 = none
  std::vector<std::string> injected;  // names of the headers the rule set
  RequestLogHeaders request_headers;
  RequestLogHeaders response_headers;
  // The first bytes of each body as captured (kept only when the log has
  // bodies; cut to kBodyPrefix). The caller may capture more than the limit:
  // then a secret that straddles the limit is recognised whole.
  std::string request_body;
  std::string response_body;
  uint64_t request_bytes = 0;  // whole body bytes each way
  uint64_t response_bytes = 0;
  std::string error;  // RFC 9209 type; empty on success
};

// What the caller knows is secret for this entry.
struct RequestLogRedaction {
  std::span<const std::string_view> headers{};  // extra credential header names (the rule's header)
  std::span<const std::string_view> secrets{};  // the real credentials injected or substituted
};

struct RequestLogLimits {
  size_t max_entries = 4096;
  size_t max_bytes = 16 * 1024 * 1024;  // approximate (the entries' string bytes)
};

class RequestLog {
 public:
  static constexpr size_t kBodyPrefix = 8 * 1024;
  // Writes complete lines (called on the writer thread only); false when they
  // could not be written (the lines are then counted as dropped).
  using Writer = std::function<bool(std::string_view lines)>;

  // Opens (or creates) `path` for appending with mode 0600; an existing
  // regular file is narrowed to 0600 (it may hold bodies). A directory, or a
  // regular file whose mode cannot be narrowed, is an error. Non-regular files
  // (a FIFO, /dev/stderr) are written as they are.
  static Expected<std::unique_ptr<RequestLog>, std::string> open(const std::string& path, bool bodies,
                                                                 RequestLogLimits limits = {});

  // `writer` is the seam for tests (a writer a test can stall).
  RequestLog(Writer writer, bool bodies, RequestLogLimits limits = {});
  // Writes everything submitted, then joins the writer thread.
  ~RequestLog();
  RequestLog(const RequestLog&) = delete;
  RequestLog& operator=(const RequestLog&) = delete;

  bool bodies() const { return bodies_; }
  // Redacts, then queues; never waits for the writer.
  void submit(RequestLogEntry&& entry, RequestLogRedaction redaction = {});
  // Blocks until everything submitted so far (drop notes included) is written.
  void flush();
  // Entries that did not reach the file: queue full, or the write failed.
  uint64_t dropped() const;

 private:
  struct Queued {
    RequestLogEntry entry;
    size_t bytes;
  };
  void run();

  const Writer writer_;
  const bool bodies_;
  const RequestLogLimits limits_;

  mutable std::mutex mu_;
  std::condition_variable wake_;     // the writer: work to do, or stop
  std::condition_variable written_;  // flush(): progress
  std::vector<Queued> queue_;
  size_t queued_bytes_ = 0;
  uint64_t submitted_ = 0;      // entries queued so far
  uint64_t written_upto_ = 0;   // of those, handled by the writer
  uint64_t queue_drops_ = 0;    // dropped at submit (total)
  uint64_t drops_handled_ = 0;  // of those, taken by the writer for a note
  uint64_t write_drops_ = 0;    // lost to failed writes (total)
  bool stop_ = false;
  std::thread thread_;  // last: starts after everything above exists
};

// The pieces of submit() and of the writer, pure, for tests.
// Query (and fragment) values of secret-ish names and a URL's password
// become "[REDACTED]".
std::string redact_url(std::string_view url);
// Every occurrence of any of `secrets` becomes "[REDACTED]".
std::string redact_secrets(std::string_view text, std::span<const std::string_view> secrets);
// Cuts `captured` to kBodyPrefix and redacts `secrets` in it. Unless the
// capture is known to be the whole body (`body_bytes` == its size, within the
// limit), a tail that is the start of a secret (cut in two by the limit) is
// redacted too, and a multi-byte UTF-8 character cut by the limit is dropped.
std::string redact_body_prefix(std::string_view captured, uint64_t body_bytes,
                               std::span<const std::string_view> secrets);
// One JSON line (without newline).
std::string format_request_log_line(const RequestLogEntry& entry, bool bodies);

}  // namespace ferry
