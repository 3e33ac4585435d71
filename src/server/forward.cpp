// The forward phase: the request body's first check, admission by the breaker, then
// the owner of the upstream exchange: it picks the connection (pooled or new), runs one
// exchange, retries a stale keep-alive connection once, and records the outcome into
// the endpoint's state at exactly one point.
#include "logging/log.hpp"
#include "proxy/rewrite.hpp"
#include "server/server.hpp"
#include "server/session.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

using net::Clock;

net::Task<void> Session::forward(const registry::EndpointRuntime& ep,
                                 std::string_view matched_prefix) {
  const auto& cfg = *ep.config;
  proxy::upstream_path(cfg.url.base_path, matched_prefix, path_, cfg.strip_prefix, up_path_);
  proxy::ForwardInfo info;
  info.path = up_path_;
  info.host = cfg.preserve_host && !req_.host.empty() ? req_.host : std::string_view(ep.host_header);
  info.client_ip = client_ip_;
  info.prefix = matched_prefix;
  info.request_id = request_id_;
  proxy::build_upstream_head(req_, info, head_out_);

  // The chunked body bytes that came with the head are decoded before any upstream is
  // contacted, so a malformed body is refused without reaching it.
  body_out_.clear();
  if (req_.body == http::BodyKind::chunked) {
    const auto err = take_ahead_body();
    if (err) {
      co_await send_gateway_error(*err, cfg.id);
      co_return;
    }
  }

  // Breaker phase: while open, the upstream sees nothing and the fallback answers.
  health::EndpointState& state = *ep.state;
  const health::Admission admission = state.admit();
  if (!admission.admitted()) {
    state.record_fallback();
    co_await send_fallback(ep, admission);
    co_return;
  }
  admission_ = admission;
  upstream_started_ = Clock::now();
  if (req_.expect_continue && req_.body != http::BodyKind::none && req_.minor == 1) {
    const auto ec = co_await write_client(std::string_view("HTTP/1.1 100 Continue\r\n\r\n"));
    if (ec) {
      ex_.close = true;
      record_outcome(health::Outcome::aborted);
      co_return;
    }
  }
  co_await run_exchange(ep);
}

std::optional<proxy::GatewayError> Session::take_ahead_body() {
  std::size_t used = 0;
  const auto st = feed_request_body(std::string_view(in_.data() + in_used_, in_len_ - in_used_),
                                    used);
  in_used_ += used;
  return body_error(st);
}

http::BodyReader::Status Session::feed_request_body(std::string_view data, std::size_t& used) {
  const auto st = req_body_.feed(data, used, [&](std::string_view piece) {
    req_writer_.piece(piece, body_out_);
  });
  ex_.bytes_in += used;
  if (st == http::BodyReader::Status::done) req_writer_.finish(body_out_);
  return st;
}

std::optional<proxy::GatewayError> Session::body_error(http::BodyReader::Status st) {
  if (st == http::BodyReader::Status::error) return proxy::errors::bad_chunked_body();
  if (st == http::BodyReader::Status::too_large) return proxy::errors::body_too_large(true);
  return std::nullopt;
}

net::Task<void> Session::run_exchange(const registry::EndpointRuntime& ep) {
  const auto& cfg = *ep.config;
  const auto exchange_deadline = Clock::now() + cfg.timeout;
  progress_ = Progress{};
  std::optional<proxy::GatewayError> error;
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<proxy::UpstreamConn> conn;
    if (attempt == 0) conn = w_.pool.acquire(ep.pool_key);
    const bool reused = conn != nullptr;
    if (!conn) {
      const auto connect_deadline = std::min(exchange_deadline, Clock::now() + cfg.connect_timeout);
      auto [cerr, fresh] = co_await w_.pool.connect(ep, connect_deadline);
      if (cerr != net::ConnectError::none) {
        logging::debug("upstream connect failed", {{"endpoint", std::string_view(cfg.id)},
                                                   {"request_id", std::string_view(request_id_)},
                                                   {"reason", net::to_string(cerr)}});
        error = proxy::errors::connect_failed(cerr);
        break;
      }
      conn = std::move(fresh);
    }
    upstream_deadline_->arm(exchange_deadline, &conn->socket());
    error = co_await exchange(*conn, *ep.state);
    upstream_deadline_->disarm();
    if (!error) {
      if (res_.keep_alive && up_len_ == 0 && !upstream_deadline_->fired())
        w_.pool.release(std::move(conn));
      break;
    }
    // The stale keep-alive retry (SPEC 13): a reused connection that the upstream had
    // closed before answering gets one fresh try (exchange() says when sending the
    // request twice is harmless). A broken connection is never reused.
    conn.reset();
    if (!(error->retryable && reused && attempt == 0)) break;
  }

  // The outcome is recorded once: at the response head when its status counts as a
  // failure, when the body completed (success), or here when neither came.
  if (!progress_.head) {
    record_outcome(proxy::dispose(*error).outcome);
  } else if (!progress_.failure_status && !progress_.complete) {
    // The relay broke: the upstream's fault, or the client left (the upstream did its part).
    record_outcome(error && error->who == proxy::Party::upstream ? health::Outcome::failure
                                                                  : health::Outcome::success);
  }
  if (!error) co_return;
  if (error->client_gone && !progress_.head) ex_.status = 499;  // client went away mid-body
  if (progress_.head) {
    ex_.close = true;  // the answer is cut: nothing more can be said on this connection
    co_return;
  }
  co_await send_gateway_error(*error, cfg.id);
}

void Session::on_response_head(health::EndpointState& state) {
  progress_.head = true;
  ex_.upstream_status = res_.status;
  progress_.failure_status = state.is_failure_status(res_.status);
  if (progress_.failure_status) record_outcome(health::Outcome::failure);
  start_capture(state);
}

void Session::on_body_complete() {
  progress_.complete = true;
  if (!ex_.state) return;
  finish_capture(*ex_.state, true);
  // Recorded before the client's last bytes are written, so its next request already
  // sees the breaker's verdict (a late success would reset a newer failure).
  if (!progress_.failure_status) record_outcome(health::Outcome::success);
}

void Session::record_outcome(health::Outcome outcome) {
  if (!ex_.state) return;
  const auto now = Clock::now();
  const auto took = now - upstream_started_;
  // Aborted: the client went away before the upstream had its say; no upstream timing.
  if (outcome != health::Outcome::aborted)
    ex_.upstream_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
  ex_.state->record(admission_, outcome, took, now);
}

net::Task<void> Session::send_gateway_error(const proxy::GatewayError& e,
                                            std::string_view endpoint, std::string_view extra) {
  const auto d = proxy::dispose(e);
  if (d.close) ex_.close = true;
  if (d.status == 0) co_return;
  co_await send_error(e.code, e.detail, endpoint, extra);
}

}  // namespace gatehouse::server
