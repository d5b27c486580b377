// Micro-benchmarks of ferry's per-request HTTP work: head parsing, chunked
// decoding, and building the head sent on to the origin.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "http/chunked_decoder.h"
#include "http/head_parser.h"
#include "http/header_rewrite.h"
#include "http/message_framing.h"
#include "http/message_head.h"
#include "http/request_target.h"

namespace {

using namespace ferry::http;

constexpr std::string_view kCurlRequest =
    "GET http://example.com/index.html HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Proxy-Connection: Keep-Alive\r\n"
    "\r\n";

constexpr std::string_view kBrowserRequest =
    "GET http://www.example.com/assets/js/app.3f9c1a.js?v=20240101 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "Connection: keep-alive\r\n"
    "Proxy-Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
    "Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: no-cors\r\n"
    "Sec-Fetch-User: ?1\r\n"
    "Sec-Fetch-Dest: script\r\n"
    "Referer: http://www.example.com/products/category/widgets?page=2&sort=price\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-GB,en;q=0.9,de;q=0.8\r\n"
    "Cookie: session=7d1f0c2a9b8e4f6a; prefs=dark; _ga=GA1.2.123456789.1700000000; consent=yes\r\n"
    "If-None-Match: \"5f2b-18c4a7e1d40\"\r\n"
    "If-Modified-Since: Tue, 02 Jan 2024 10:00:00 GMT\r\n"
    "Cache-Control: max-age=0\r\n"
    "\r\n";

constexpr std::string_view kNginxResponse =
    "HTTP/1.1 200 OK\r\n"
    "Server: nginx/1.22.1\r\n"
    "Date: Mon, 01 Jan 2024 12:00:00 GMT\r\n"
    "Content-Type: text/html\r\n"
    "Content-Length: 615\r\n"
    "Last-Modified: Tue, 02 Jan 2024 10:00:00 GMT\r\n"
    "Connection: keep-alive\r\n"
    "ETag: \"5f2b-267\"\r\n"
    "Accept-Ranges: bytes\r\n"
    "\r\n";

void require(bool ok, benchmark::State& state, const char* what) {
  if (!ok) state.SkipWithError(what);
}

// The whole per-request parse: find the end of the head, parse it, analyse framing.
void request_parse(benchmark::State& state, std::string_view text) {
  for (auto _ : state) {
    HeadScan scan = scan_for_head_end(text, 0);
    RequestHead head;
    ParseResult r = parse_request_head(text.substr(0, scan.head_size), head);
    auto info = analyze_request(head);
    benchmark::DoNotOptimize(head);
    benchmark::DoNotOptimize(info);
    if (scan.state != ParseState::complete || r.state != ParseState::complete || !info) {
      state.SkipWithError("parse failed");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}

void BM_ParseCurlRequest(benchmark::State& state) { request_parse(state, kCurlRequest); }
void BM_ParseBrowserRequest20Headers(benchmark::State& state) { request_parse(state, kBrowserRequest); }

void BM_ParseNginxResponse(benchmark::State& state) {
  for (auto _ : state) {
    HeadScan scan = scan_for_head_end(kNginxResponse, 0);
    ResponseHead head;
    ParseResult r = parse_response_head(kNginxResponse.substr(0, scan.head_size), head);
    auto info = analyze_response(head, "GET");
    benchmark::DoNotOptimize(head);
    benchmark::DoNotOptimize(info);
    if (scan.state != ParseState::complete || r.state != ParseState::complete || !info) {
      state.SkipWithError("parse failed");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kNginxResponse.size()));
}

// A 64 KiB body in 4 KiB chunks, fed to the decoder as it arrives from a
// socket: in 16 KiB reads that cut through chunk boundaries.
void BM_ChunkedDecode64KiB(benchmark::State& state) {
  constexpr size_t kBody = 64 * 1024, kChunk = 4 * 1024, kRead = 16 * 1024;
  std::string wire;
  for (size_t off = 0; off < kBody; off += kChunk) {
    wire += chunk_header(kChunk);
    wire.append(kChunk, 'a');
    wire += kChunkTrailer;
  }
  wire += kLastChunk;
  for (auto _ : state) {
    ChunkedDecoder dec;
    size_t payload = 0;
    std::string_view rest;
    size_t fed = 0;
    for (int guard = 0; guard < 10000 && !dec.done(); ++guard) {
      if (rest.empty()) {
        if (fed >= wire.size()) break;
        rest = std::string_view(wire).substr(fed, kRead);
        fed += rest.size();
      }
      auto step = dec.step(rest);
      rest.remove_prefix(step.consumed);
      if (step.status == ChunkedDecoder::Status::data) payload += step.data.size();
      if (step.status == ChunkedDecoder::Status::error) break;
    }
    benchmark::DoNotOptimize(payload);
    if (payload != kBody || !dec.done()) {
      state.SkipWithError("decode failed");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
}

void build_head(benchmark::State& state, std::string_view text) {
  HeadScan scan = scan_for_head_end(text, 0);
  RequestHead head;
  ParseResult r = parse_request_head(text.substr(0, scan.head_size), head);
  auto info = analyze_request(head);
  auto target = parse_absolute_target(head.target);
  require(r.state == ParseState::complete && info && target, state, "setup failed");
  if (!info || !target) return;
  const std::string host = target->host_header();
  for (auto _ : state) {
    std::string out =
        build_request_head(head, *info,
                           ForwardRequest{head.method, target->origin_form, host, "1.1 ferry-0123456789ab", false});
    benchmark::DoNotOptimize(out);
  }
}

void BM_BuildRequestHeadCurl(benchmark::State& state) { build_head(state, kCurlRequest); }
void BM_BuildRequestHeadBrowser(benchmark::State& state) { build_head(state, kBrowserRequest); }

BENCHMARK(BM_ParseCurlRequest);
BENCHMARK(BM_ParseBrowserRequest20Headers);
BENCHMARK(BM_ParseNginxResponse);
BENCHMARK(BM_ChunkedDecode64KiB);
BENCHMARK(BM_BuildRequestHeadCurl);
BENCHMARK(BM_BuildRequestHeadBrowser);

}  // namespace

BENCHMARK_MAIN();
