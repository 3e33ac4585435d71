// Per-request HTTP work (issue 6): parsing a typical request head, building the head
// sent upstream, parsing the upstream's response head and building the client's.
#include <benchmark/benchmark.h>

#include <string>

#include "http/message.hpp"
#include "proxy/rewrite.hpp"

namespace {

using namespace gatehouse;

constexpr std::string_view kRequest =
    "GET /users/v1/42?expand=orders HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n"
    "Accept: application/json\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl\r\n"
    "Cookie: session=abc123; theme=dark\r\n"
    "X-Forwarded-For: 203.0.113.7\r\n"
    "Connection: keep-alive\r\n\r\n";

constexpr std::string_view kResponse =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 512\r\n"
    "Cache-Control: no-cache\r\n"
    "Date: Fri, 27 Nov 2026 10:00:00 GMT\r\n"
    "Server: upstream\r\n\r\n";

void BM_ParseRequestHead(benchmark::State& state) {
  http::RequestHead head;
  http::HeadError err;
  for (auto _ : state) {
    auto st = http::parse_request(kRequest, {}, head, err);
    benchmark::DoNotOptimize(st);
  }
}
BENCHMARK(BM_ParseRequestHead);

void BM_BuildUpstreamHead(benchmark::State& state) {
  http::RequestHead head;
  http::HeadError err;
  http::parse_request(kRequest, {}, head, err);
  proxy::ForwardInfo info;
  info.path = "/api/42";
  info.host = "127.0.0.1:9001";
  info.client_ip = "10.1.2.3";
  info.prefix = "/users/v1";
  info.request_id = "4a936ff1a351afb8600eeb69164e5995";
  std::string out;
  for (auto _ : state) {
    proxy::build_upstream_head(head, info, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_BuildUpstreamHead);

void BM_ParseResponseAndBuildClientHead(benchmark::State& state) {
  http::ResponseHead res;
  std::string out;
  for (auto _ : state) {
    http::parse_response(kResponse, 64 * 1024, false, res);
    proxy::build_client_head(res, proxy::ClientFraming::length,
                             "4a936ff1a351afb8600eeb69164e5995", false, false, out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_ParseResponseAndBuildClientHead);

}  // namespace
