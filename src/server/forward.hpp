// server/: the owner of the upstream part of a request (Envoy's router): it picks the
// server, opens or reuses a connection, runs one UpstreamExchange, makes the stale
// keep-alive retry, and records the outcome into the chosen server's state exactly
// once. The exchange's events (head, body piece, complete) feed the breaker and the
// `cached` fallback's capture here. Retries over several servers go here.
#pragma once

#include <memory>
#include <optional>

#include "net/frame_pool.hpp"
#include "net/io.hpp"
#include "proxy/gateway_error.hpp"
#include "registry/snapshot.hpp"
#include "server/capture.hpp"
#include "server/exchange.hpp"
#include "server/request_context.hpp"

namespace gatehouse::server {

struct Worker;
class Connection;

class Forwarder {
 public:
  Forwarder(Worker& w, Connection& conn, RequestContext& ctx);

  // The server this request goes to (the endpoint's one server for now).
  const registry::UpstreamServer& pick(const registry::EndpointRuntime& ep);
  // The request's head towards the upstream, and the body bytes that came with it
  // (a malformed chunked body is refused here, before any upstream is contacted).
  std::optional<proxy::GatewayError> prepare(const registry::EndpointRuntime& ep);
  // Sends, reads, relays. Returns the failure to answer: nullopt when the response was
  // relayed, or when it was cut after its head (then the connection closes).
  net::Task<std::optional<proxy::GatewayError>> run(const registry::EndpointRuntime& ep);

  // The exchange's events.
  void on_response_head(const http::ResponseHead& res);
  void on_body_piece(std::string_view piece) { capture_.piece(piece); }
  void on_body_complete();
  void on_relay_end();  // the response is relayed or cut: a capture not stored is dropped

  // After a relayed 101: the connection is a tunnel (tunnel.cpp), run once the
  // handshake's access line is written. The upstream connection is closed after it.
  bool tunnel_pending() const { return tunnel_conn_ != nullptr; }
  net::Task<void> run_tunnel();

  UpstreamExchange& exchange() { return exchange_; }
  // After each request: the lent buffers go back to the worker.
  void release_buffers() {
    exchange_.release_buffers();
    capture_.release();
  }
  void trim() {
    exchange_.trim();
    capture_.trim();
  }

 private:
  // Feeds the breaker; called at exactly one point per admitted request (see run).
  void record_outcome(health::Outcome outcome);
  // How far the exchange got: which decides where the outcome was recorded.
  struct Progress {
    bool head = false;            // a final response head was read
    bool failure_status = false;  // ... with a status in failure_statuses
    bool complete = false;        // the response body was read to its end
  };

  Worker& w_;
  Connection& conn_;
  RequestContext& ctx_;
  UpstreamExchange exchange_;
  ResponseCapture capture_;
  Progress progress_;
  net::Clock::time_point started_{};
  std::unique_ptr<proxy::UpstreamConn> tunnel_conn_;
  net::Clock::duration tunnel_idle_{};
  std::shared_ptr<metrics::EndpointMetrics> tunnel_metrics_;  // outlives a reload
};

}  // namespace gatehouse::server

template <>
inline constexpr bool gatehouse::net::pooled_coroutines<gatehouse::server::Forwarder> = true;
