// The gateway's own answers (problem+json errors, API replies, fallbacks' bodies) and
// the access-log line with the request's metrics.
#include <charconv>

#include "logging/log.hpp"
#include "server/connection.hpp"
#include "server/pipeline.hpp"
#include "server/server.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

namespace asio = boost::asio;
using net::Clock;

net::Task<void> Pipeline::send_response(int status, std::string_view content_type,
                                        std::string_view body, std::string_view extra) {
  const auto& req = ctx_.req;
  // A request body we did not read cannot be skipped safely: close after answering.
  if (req.body != http::BodyKind::none && conn_->input().used == req.head_size) ctx_.close = true;
  if (w_.server.draining()) ctx_.close = true;
  std::string& head = forwarder_.exchange().head_out();
  head.clear();
  head.append("HTTP/1.1 ");
  char num[16];
  auto [end, ec] = std::to_chars(num, num + sizeof num, status);
  head.append(num, end);
  head.push_back(' ');
  head.append(reason_phrase(status));
  head.append("\r\nContent-Type: ");
  head.append(content_type);
  head.append("\r\nContent-Length: ");
  auto [end2, ec2] = std::to_chars(num, num + sizeof num, body.size());
  head.append(num, end2);
  head.append("\r\nX-Request-Id: ");
  head.append(ctx_.request_id);
  head.append("\r\n");
  head.append(extra);
  head.append(ctx_.rate_limit_headers.view());
  if (ctx_.close) head.append("Connection: close\r\n");
  else if (req.minor == 0) head.append("Connection: keep-alive\r\n");
  head.append("\r\n");
  ctx_.status = status;
  ctx_.response_started = true;
  if (ctx_.close) conn_->stream().last_write_next();  // net::Stream::last_write_next
  const bool head_only = req.method == "HEAD";
  const asio::const_buffer parts[] = {asio::buffer(head),
                                      asio::buffer(body.data(), head_only ? 0 : body.size())};
  const auto wec = co_await conn_->write(parts);
  if (wec) ctx_.close = true;
}

net::Task<void> Pipeline::send_error(ErrorCode code, std::string_view detail,
                                     std::string_view extra) {
  ctx_.error = code;
  const std::string body = problem_json(code, detail, ctx_.request_id, ctx_.endpoint_id);
  co_await send_response(status_of(code), "application/problem+json", body, extra);
}

net::Task<void> Pipeline::send_gateway_error(const proxy::GatewayError& e,
                                             std::string_view extra) {
  const auto d = proxy::dispose(e);
  if (d.close) ctx_.close = true;
  if (d.status == 0) co_return;
  co_await send_error(e.code, e.detail, extra);
}

net::Task<void> Pipeline::send_reply(const admin::Reply& reply) {
  if (reply.problem) ctx_.error = reply.problem;
  if (reply.is_error) {
    co_await send_error(reply.code, reply.detail, reply.extra_headers);
  } else {
    co_await send_response(reply.status, reply.content_type, reply.body, reply.extra_headers);
  }
}

void Pipeline::log_access() {
  // Metrics are recorded for every request, whether or not the access log is on.
  const auto end = Clock::now();
  const auto& req = ctx_.req;
  metrics::RequestSample sample;
  sample.method = metrics::method_of(req.method);
  sample.status = ctx_.status != 0 ? ctx_.status : 499;  // no response sent: client closed
  sample.duration_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(end - ctx_.start).count();
  sample.upstream_ns = ctx_.upstream_ns;
  sample.error = ctx_.error;
  sample.fallback = ctx_.fallback;
  w_.server.metrics().record(ctx_.metrics, w_.index, sample);

  if (logging::access_log_enabled() && logging::enabled(logging::Level::info)) {
    const auto elapsed = std::chrono::duration<double, std::milli>(end - ctx_.start);
    logging::AccessRecord r;
    r.request_id = ctx_.request_id;
    r.client = conn_->client_ip();
    r.method = req.method;
    r.path = ctx_.path.empty() ? req.path : std::string_view(ctx_.path);
    r.status = ctx_.status;
    r.endpoint = ctx_.endpoint_id;
    r.upstream_status = ctx_.upstream_status;
    r.bytes_in = ctx_.bytes_in;
    r.bytes_out = ctx_.bytes_out;
    r.duration_ms = elapsed.count();
    // The last tried server's breaker; without one (a fallback of an endpoint whose
    // servers are all out, a malformed body), the endpoint's as SPEC 7 derives it.
    if (ctx_.state) r.breaker = health::to_string(ctx_.state->breaker().state());
    else if (ctx_.prepared && ctx_.endpoint)
      r.breaker = health::to_string(registry::derived_breaker_state(*ctx_.endpoint));
    if (ctx_.attempts > 0 && ctx_.server) r.upstream = ctx_.server->authority;
    r.attempts = ctx_.attempts;
    if (ctx_.fallback) r.fallback = metrics::fallback_label(*ctx_.fallback);
    // Ours only: an upstream's own 429 passed through is not a rate-limited request.
    r.rate_limited = ctx_.error == ErrorCode::rate_limited;
    logging::access(r);
  }
  ctx_.path.clear();
}

}  // namespace gatehouse::server
