// server/: the owner of the upstream part of a request (Envoy's router): it chooses the
// server (the endpoint's balancer, among servers whose breaker admits and whose health is
// not down), opens or reuses a connection, runs one UpstreamExchange per try, makes the
// stale keep-alive retry, retries a failed try on another server (SPEC 13), and records
// each try's outcome into its server's state exactly once. The exchange's events (head,
// body piece, complete) feed the breaker and the `cached` fallback's capture here.
#pragma once

#include <memory>
#include <optional>

#include "balance/retry_policy.hpp"
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

  // Before admission: the path towards the upstream, and the body bytes that came with
  // the head (a malformed chunked body is refused here, before any upstream or breaker).
  std::optional<proxy::GatewayError> prepare(const registry::EndpointRuntime& ep);
  // The first try's server: picked by the endpoint's policy among the available ones,
  // with its breaker's admission taken (ctx.server, ctx.state, ctx.admission). False when
  // no server can take the request: ctx.admission then says when to come back.
  bool choose(const registry::EndpointRuntime& ep);
  // Sends, reads, relays, retries. Returns the failure to answer: nullopt when the
  // response was relayed, or when it was cut after its head (then the connection closes).
  net::Task<std::optional<proxy::GatewayError>> run(const registry::EndpointRuntime& ep);

  // The exchange's events. on_response_head returns false to stop the exchange at the
  // head: a status to retry on another try, never relayed.
  bool on_response_head(const http::ResponseHead& res);
  void on_body_piece(std::string_view piece) { capture_.piece(piece); }
  // Whether the response body's bytes are wanted here (the `cached` fallback's copy):
  // then they pass through user space, never spliced.
  bool observes_body() const { return capture_.active(); }
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
  // The pipeline owning this Forwarder now serves `conn`.
  void bind(Connection& conn) {
    conn_ = &conn;
    exchange_.bind(conn);
  }

 private:
  // The next retry's server, as chosen when a try failed (not yet switched to).
  struct Next {
    std::size_t server = balance::kNone;
    health::Admission admission;
    bool same_server = false;  // every available server was tried: back off first
  };

  // A try's exchange on `conn` (run() awaits it between the two): begin arms the
  // upstream deadline; end disarms it, hands the connection to the pool or the tunnel
  // when the exchange succeeded, and says whether the try is over (false: the stale
  // keep-alive retry on a fresh connection, allowed once for a reused one).
  void begin_exchange(proxy::UpstreamConn& conn, net::Clock::time_point deadline);
  bool end_exchange(const registry::EndpointRuntime& ep, std::unique_ptr<proxy::UpstreamConn> conn,
                    const std::optional<proxy::GatewayError>& error, bool may_retry_stale);
  void log_connect_failure(net::ConnectError cerr) const;
  void build_head(const registry::EndpointRuntime& ep);
  void select(const registry::EndpointRuntime& ep, std::size_t server, const health::Admission& a);
  bool available(const registry::EndpointRuntime& ep, std::size_t server) const;
  // Whether the failed try (`outcome`) is retried, and where: SPEC 13's rules, an
  // available server, the budget, that server's admission. Counts the retry or the
  // exhausted budget.
  std::optional<Next> plan_retry(const registry::EndpointRuntime& ep,
                                 const balance::TryOutcome& outcome);
  // Feeds the try's server state; called at exactly one point per try (see run).
  void record_outcome(health::Outcome outcome);
  // Feeds the endpoint's stats; once per request, at the final try's outcome.
  void record_request(health::Outcome outcome);
  // How far the current try got: which decides where its outcome was recorded.
  struct Progress {
    bool head = false;            // a final response head was read
    bool failure_status = false;  // ... with a status in failure_statuses
    bool complete = false;        // the response body was read to its end
    bool recorded = false;        // the try's outcome went to its server's state
    bool connected = false;       // a connection was established
  };

  Worker& w_;
  Connection* conn_;  // the client connection of the request (the pipeline is lent per request)
  RequestContext& ctx_;
  UpstreamExchange exchange_;
  ResponseCapture capture_;
  Progress progress_;
  // The request across its tries.
  const registry::EndpointRuntime* ep_ = nullptr;
  // The try counted in the balancer's in-flight figures (least_request), until its
  // response is read whole or the try ends.
  std::size_t in_flight_server_ = 0;
  bool in_flight_open_ = false;
  void end_in_flight() {
    if (!in_flight_open_) return;
    in_flight_open_ = false;
    ep_->balancer->end(in_flight_server_);
  }
  std::optional<std::string_view> key_;  // the hash policy's key: a view into the head
  balance::TriedServers tried_;
  std::uint32_t retries_ = 0;
  std::uint32_t same_server_retries_ = 0;
  std::optional<Next> next_;             // planned at a held response head
  bool request_recorded_ = false;
  health::Outcome last_outcome_ = health::Outcome::aborted;
  net::Clock::time_point started_{};      // the first try's start
  net::Clock::time_point try_started_{};  // the current try's start
  net::Clock::time_point exchange_deadline_{};
  proxy::UpstreamConn* conn_now_ = nullptr;  // the current try's connection
  net::Timer backoff_;
  std::unique_ptr<proxy::UpstreamConn> tunnel_conn_;
  net::Clock::duration tunnel_idle_{};
  std::shared_ptr<metrics::EndpointMetrics> tunnel_metrics_;  // outlives a reload
};

}  // namespace gatehouse::server

template <>
inline constexpr bool gatehouse::net::pooled_coroutines<gatehouse::server::Forwarder> = true;
