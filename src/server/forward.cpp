// The Forwarder: the server, the connection (pooled or new), one exchange, the stale
// keep-alive retry, and the outcome recorded into the server's state at exactly one
// point.
#include "server/forward.hpp"

#include "logging/log.hpp"
#include "proxy/rewrite.hpp"
#include "server/connection.hpp"
#include "server/server.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

using net::Clock;

Forwarder::Forwarder(Worker& w, Connection& conn, RequestContext& ctx)
    : w_(w), conn_(conn), ctx_(ctx), exchange_(w, conn, ctx, *this) {}

const registry::UpstreamServer& Forwarder::pick(const registry::EndpointRuntime& ep) {
  return ep.servers.front();
}

std::optional<proxy::GatewayError> Forwarder::prepare(const registry::EndpointRuntime& ep) {
  const auto& cfg = *ep.config;
  const auto& req = ctx_.req;
  proxy::upstream_path(cfg.url.base_path, ctx_.matched_prefix, ctx_.path, cfg.strip_prefix,
                       ctx_.up_path);
  proxy::ForwardInfo info;
  info.path = ctx_.up_path;
  info.host = cfg.preserve_host && !req.host.empty() ? req.host
                                                     : std::string_view(ctx_.server->host_header);
  info.client_ip = conn_.client_ip();
  info.proto = conn_.is_tls() ? "https" : "http";
  info.client_cert_subject = conn_.client_cert_subject();
  info.prefix = ctx_.matched_prefix;
  info.request_id = ctx_.request_id;
  proxy::build_upstream_head(req, info, exchange_.head_out());
  return exchange_.take_ahead_body();
}

net::Task<std::optional<proxy::GatewayError>> Forwarder::run(const registry::EndpointRuntime& ep) {
  const auto& cfg = *ep.config;
  const auto& server = *ctx_.server;
  const auto& req = ctx_.req;
  started_ = Clock::now();
  progress_ = Progress{};
  if (req.expect_continue && req.body != http::BodyKind::none && req.minor == 1) {
    const auto ec = co_await conn_.write(std::string_view("HTTP/1.1 100 Continue\r\n\r\n"));
    if (ec) {
      ctx_.close = true;
      record_outcome(health::Outcome::aborted);
      co_return std::nullopt;
    }
  }

  const auto exchange_deadline = Clock::now() + cfg.timeout;
  auto& deadline = exchange_.deadline();
  std::optional<proxy::GatewayError> error;
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<proxy::UpstreamConn> conn;
    if (attempt == 0) conn = w_.connector->acquire(server);
    const bool reused = conn != nullptr;
    if (!conn) {
      const auto connect_deadline = std::min(exchange_deadline, Clock::now() + cfg.connect_timeout);
      auto [cerr, fresh] = co_await w_.connector->connect(server, cfg, connect_deadline);
      if (cerr != net::ConnectError::none) {
        logging::debug("upstream connect failed", {{"endpoint", std::string_view(cfg.id)},
                                                   {"request_id", std::string_view(ctx_.request_id)},
                                                   {"reason", net::to_string(cerr)}});
        error = proxy::errors::connect_failed(cerr);
        break;
      }
      conn = std::move(fresh);
    }
    deadline.arm(exchange_deadline, &conn->socket());
    error = co_await exchange_.run(*conn);
    deadline.disarm();
    if (!error) {
      if (exchange_.reusable()) w_.connector->release(std::move(conn));
      break;
    }
    // The stale keep-alive retry (SPEC 13): a reused connection that the upstream had
    // closed before answering gets one fresh try (the exchange says when sending the
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
  if (!error) co_return std::nullopt;
  if (error->client_gone && !progress_.head) ctx_.status = 499;  // client went away mid-body
  if (progress_.head) {
    ctx_.close = true;  // the answer is cut: nothing more can be said on this connection
    co_return std::nullopt;
  }
  co_return error;
}

void Forwarder::on_response_head(const http::ResponseHead& res) {
  progress_.head = true;
  ctx_.upstream_status = res.status;
  progress_.failure_status = ctx_.state->is_failure_status(res.status);
  if (progress_.failure_status) record_outcome(health::Outcome::failure);
  capture_.start(*ctx_.state, ctx_.req, res, ctx_.path);
}

void Forwarder::on_body_complete() {
  progress_.complete = true;
  capture_.finish(*ctx_.state, ctx_.req, exchange_.response(), ctx_.path, true);
  // Recorded before the client's last bytes are written, so its next request already
  // sees the breaker's verdict (a late success would reset a newer failure).
  if (!progress_.failure_status) record_outcome(health::Outcome::success);
}

void Forwarder::on_relay_end() {
  capture_.finish(*ctx_.state, ctx_.req, exchange_.response(), ctx_.path, false);
}

void Forwarder::record_outcome(health::Outcome outcome) {
  const auto now = Clock::now();
  const auto took = now - started_;
  // Aborted: the client went away before the upstream had its say; no upstream timing.
  if (outcome != health::Outcome::aborted)
    ctx_.upstream_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
  ctx_.state->record(ctx_.admission, outcome, took, now);
}

}  // namespace gatehouse::server
