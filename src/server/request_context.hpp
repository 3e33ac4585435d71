// server/: what one request carries through the pipeline: its head, its id and
// normalised path, the route and endpoint it matched, the server chosen and the breaker's
// admission, the failure (if any) to answer with, and the fields of its access-log line.
// Owned by the Pipeline (lent to a connection while it serves requests: pipeline.hpp) and
// reset per request; the strings and vectors keep their capacity, so a keep-alive request
// allocates nothing here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/problem.hpp"
#include "health/endpoint_state.hpp"
#include "http/message.hpp"
#include "metrics/endpoint_metrics.hpp"
#include "net/io.hpp"
#include "proxy/gateway_error.hpp"
#include "ratelimit/headers.hpp"
#include "registry/snapshot.hpp"

namespace gatehouse::server {

struct RequestContext {
  http::RequestHead req;
  std::string request_id;
  std::string path;     // normalised (SPEC 3)
  std::string up_path;  // the path sent upstream

  // Routing and admission.
  std::shared_ptr<const registry::Snapshot> snap;  // held until the request ends
  const registry::EndpointRuntime* endpoint = nullptr;
  std::string_view matched_prefix;
  const registry::UpstreamServer* server = nullptr;  // the server of the current (last) try
  std::size_t server_index = 0;                      // its place in endpoint->servers
  health::Admission admission;                       // ... and its breaker's admission
  bool prepared = false;        // reached the prepare phase (the access log's breaker)
  std::uint32_t attempts = 0;   // tries made (the access log's `attempts`)
  bool websocket = false;  // a WebSocket handshake (SPEC 15): a 101 makes a tunnel

  // A phase that refuses the request sets this; finish() answers it (problem+json)
  // unless a response was already started. `extra` holds header lines for that answer
  // (Allow, Retry-After); `detail` a detail built for this request.
  std::optional<proxy::GatewayError> failure;
  std::string extra;
  std::string detail;
  // RateLimit-* fields, set by the rate-limit phase: every later answer carries them.
  ratelimit::HeaderBlock rate_limit_headers;

  // The access-log line and the metrics.
  net::Clock::time_point start{};
  std::string_view endpoint_id;
  int status = 0;
  int upstream_status = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  bool response_started = false;
  bool close = false;         // close the connection after this request
  std::optional<metrics::Fallback> fallback;  // the fallback that answered, if one did
  health::EndpointState* state = nullptr;    // the current (last) try's server's
  metrics::EndpointMetrics* metrics = nullptr;  // null: counted under endpoint ""
  std::optional<ErrorCode> error;             // the gateway-made error answered with
  std::int64_t upstream_ns = -1;              // the upstream exchange's duration; < 0: none

  // Before a new request head is read.
  void reset() {
    endpoint = nullptr;
    matched_prefix = {};
    server = nullptr;
    server_index = 0;
    admission = {};
    websocket = false;
    prepared = false;
    attempts = 0;
    failure.reset();
    extra.clear();
    detail.clear();
    rate_limit_headers.clear();
    start = {};
    endpoint_id = {};
    status = 0;
    upstream_status = 0;
    bytes_in = 0;
    bytes_out = 0;
    response_started = false;
    close = false;
    fallback.reset();
    state = nullptr;
    metrics = nullptr;
    error.reset();
    upstream_ns = -1;
  }
  // The request is refused with `e` (and `extra` header lines); finish() answers.
  void fail(const proxy::GatewayError& e, std::string_view extra_lines = {}) {
    failure = e;
    extra.assign(extra_lines);
  }
};

}  // namespace gatehouse::server
