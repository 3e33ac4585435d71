// server/: one downstream connection: the request pipeline as named phases
// (read head -> route -> checks -> forward -> respond -> log), looping while keep-alive.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "admin/admin.hpp"
#include "common/problem.hpp"
#include "http/body.hpp"
#include "http/message.hpp"
#include "net/deadline.hpp"
#include "net/frame_pool.hpp"
#include "net/io.hpp"
#include "proxy/gateway_error.hpp"
#include "proxy/upstream.hpp"
#include "ratelimit/headers.hpp"
#include "registry/snapshot.hpp"
#include "router/route_table.hpp"

namespace gatehouse::server {

struct Worker;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Worker& worker, net::Socket socket);
  ~Session();

  net::Task<void> run();
  // Drain: a connection waiting for its next request is closed now.
  void close_if_idle();
  // Idle keep-alive connections give their buffers back (called every 100 ms by the
  // worker): an idle connection then costs little more than its socket.
  // Returns true when it asked this connection to trim.
  bool trim_if_idle(net::Clock::time_point now);

 private:
  // What the access-log line and error accounting need about the current request.
  struct Exchange {
    net::Clock::time_point start{};
    std::string_view endpoint;
    int status = 0;
    int upstream_status = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    bool response_started = false;
    bool close = false;         // close the connection after this exchange
    std::string_view fallback;  // fallback strategy that answered, "" when none
    health::EndpointState* state = nullptr;
    // Metrics: the endpoint's (null = counted under endpoint ""), the gateway-made error
    // this request was answered with, and the upstream exchange's duration (< 0: none).
    metrics::EndpointMetrics* metrics = nullptr;
    std::optional<ErrorCode> error;
    std::int64_t upstream_ns = -1;
    // RateLimit-* fields, set by the rate-limit phase: every later answer carries them.
    ratelimit::HeaderBlock rate_limit_headers;
  };

  net::Task<bool> read_head();
  void trim();
  void adopt_scratch();  // takes growable containers an idle connection gave back
  // Gives the buffers back and waits, without them, until the client sends more (or the
  // idle deadline, drain or the peer ends the wait: false). The deadline is armed.
  net::Task<bool> park();
  net::Task<void> handle_request();
  net::Task<void> route_and_forward();
  net::Task<void> handle_gateway_api();  // the reserved paths (gateway_api.cpp)
  net::Task<void> handle_admin();
  net::Task<void> handle_metrics();  // GET /metrics
  net::Task<void> send_reply(const admin::Reply& reply, std::string_view endpoint = {});
  void log_auth_refusal(const admin::AuthOutcome& outcome);
  // Checks the bearer token for an admin API needing `scope`; false when it answered
  // the refusal itself.
  net::Task<bool> admit_admin(const registry::Snapshot& snap, const std::string& scope);
  net::Task<void> forward(const registry::EndpointRuntime& ep, std::string_view matched_prefix);
  // Connect, send, read, relay; says how the upstream did, for the breaker.
  net::Task<health::Outcome> exchange(const registry::EndpointRuntime& ep);
  net::Task<void> send_fallback(const registry::EndpointRuntime& ep,
                                const health::Admission& admission);
  // The `cached` fallback's store: the body is copied while it is relayed, if storable
  // (fallback.cpp).
  void start_capture(health::EndpointState& state);
  void capture(std::string_view piece);
  void finish_capture(health::EndpointState& state, bool complete);

  // The owner of the upstream exchange (forward.cpp): connection, retry, the outcome.
  std::optional<proxy::GatewayError> take_ahead_body();
  http::BodyReader::Status feed_request_body(std::string_view data, std::size_t& used);
  static std::optional<proxy::GatewayError> body_error(http::BodyReader::Status st);
  net::Task<void> run_exchange(const registry::EndpointRuntime& ep);
  // What the exchange reports: the response head arrived; the whole response body has
  // been read from the upstream (before its last bytes are written to the client).
  void on_response_head(health::EndpointState& state);
  void on_body_complete();
  // Feeds the breaker; called at exactly one point per admitted request (see
  // run_exchange).
  void record_outcome(health::Outcome outcome);
  // How far the exchange got: which decides where the outcome was recorded.
  struct Progress {
    bool head = false;            // a final response head was read
    bool failure_status = false;  // ... with a status in failure_statuses
    bool complete = false;        // the response body was read to its end
  };

  // One exchange on one connection (exchange.cpp); nullopt when the response was relayed
  // completely.
  net::Task<std::optional<proxy::GatewayError>> exchange(proxy::UpstreamConn& conn,
                                                         health::EndpointState& state);
  net::Task<std::optional<proxy::GatewayError>> send_request(proxy::UpstreamConn& conn,
                                                             bool& nothing_sent);
  net::Task<std::optional<proxy::GatewayError>> read_response_head(proxy::UpstreamConn& conn);
  net::Task<std::optional<proxy::GatewayError>> relay_response(proxy::UpstreamConn& conn);

  // Gateway-made answers.
  net::Task<void> send_error(ErrorCode code, std::string_view detail,
                             std::string_view endpoint = {}, std::string_view extra = {});
  // The answer to a GatewayError, by proxy::dispose() (status, close).
  net::Task<void> send_gateway_error(const proxy::GatewayError& e, std::string_view endpoint = {},
                                     std::string_view extra = {});
  net::Task<void> send_response(int status, std::string_view content_type, std::string_view body,
                                std::string_view extra = {});
  net::Task<net::error_code> write_client(std::span<const boost::asio::const_buffer> buffers);
  net::Task<net::error_code> write_client(std::string_view data);
  net::Task<std::tuple<net::error_code, std::size_t>> read_client(char* data, std::size_t size);

  void log_access();
  // The limits of the live config (a copy: a reload may retire the snapshot meanwhile).
  config::Limits current_limits();
  void ensure_relay();
  void release_buffers();  // lends the per-request buffers back to the worker

  Worker& w_;
  net::Socket socket_;
  std::shared_ptr<net::Deadline> client_deadline_;
  std::shared_ptr<net::Deadline> upstream_deadline_;
  std::string client_ip_;

  std::vector<char> in_;          // downstream read buffer (head, then body bytes)
  std::size_t in_len_ = 0;
  std::size_t in_used_ = 0;       // bytes of in_ that belong to the current request
  http::RequestHead req_;
  http::ResponseHead res_;
  http::BodyReader req_body_;     // the request body, as it is read from the client
  http::BodyWriter req_writer_;   // ... and framed towards the upstream
  http::BodyReader res_body_;     // the response body, as it is read from the upstream
  http::BodyWriter res_writer_;   // ... and framed towards the client
  std::vector<char> relay_;       // body relay buffer, allocated on first use
  std::vector<char> up_in_;       // upstream read buffer (response head and ahead bytes)
  std::size_t up_len_ = 0;
  std::string body_out_;          // re-framed body bytes on their way out
  std::string capture_;
  std::uint64_t capture_limit_ = 0;
  bool capturing_ = false;
  health::Admission admission_;
  Progress progress_;
  net::Clock::time_point upstream_started_{};
  std::string request_id_;
  std::string path_;              // normalised path
  std::string up_path_;
  std::string head_out_;
  Exchange ex_;
  std::shared_ptr<const registry::Snapshot> snap_;  // held for the current request
  std::uint64_t requests_ = 0;    // requests handled on this connection
  bool idle_ = false;
  bool trim_requested_ = false;
  bool parked_ = false;           // read_head() returned to wait without buffers
  net::Clock::time_point idle_since_{};
  bool closed_ = false;
};

}  // namespace gatehouse::server

// The request pipeline's coroutine frames come from the per-thread pool.
template <>
inline constexpr bool gatehouse::net::pooled_coroutines<gatehouse::server::Session> = true;
