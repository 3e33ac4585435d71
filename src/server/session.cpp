// The request pipeline's phases after the head: pre-checks, route, the gateway API,
// authenticate, then forward (forward.cpp); the gateway-made answers and the log line.
#include "server/session.hpp"

#include <charconv>

#include "config/addresses.hpp"
#include "http/headers.hpp"
#include "logging/log.hpp"
#include "ratelimit/phase.hpp"
#include "router/normalize.hpp"
#include "server/server.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

namespace asio = boost::asio;
using net::Clock;

namespace {
// A client-sent value quoted in a message: printable ASCII as is, quotes, backslashes
// and other bytes as \xNN
// (so the JSON stays valid UTF-8), cut at `max` bytes of input.
void append_printable(std::string& out, std::string_view v, std::size_t max) {
  static constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < v.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out.append("\\x");
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  if (v.size() > max) out.append("...");
}
}  // namespace

net::Task<void> Session::handle_request() {
  ++requests_;
  w_.server.requests_active.fetch_add(1, std::memory_order_relaxed);
  if (http::is_sane_request_id(req_.request_id)) request_id_.assign(req_.request_id);
  else http::generate_request_id(request_id_);
  if (!req_.keep_alive) ex_.close = true;

  bool failed = false;
  std::string what;
  try {
    co_await route_and_forward();
  } catch (const std::exception& e) {
    failed = true;
    what = e.what();
  }
  if (failed) {
    logging::error("unexpected exception while handling a request",
                   {{"request_id", std::string_view(request_id_)},
                    {"error", std::string_view(what)},
                    {"stack", std::string_view(logging::current_stacktrace())}});
    ex_.close = true;
    if (!ex_.response_started) co_await send_gateway_error(proxy::errors::internal());
  }
  log_access();
  snap_.reset();
  w_.server.requests_active.fetch_sub(1, std::memory_order_relaxed);
}

net::Task<void> Session::route_and_forward() {
  if (req_.upgrade) {
    co_await send_gateway_error(proxy::errors::upgrade());
    co_return;
  }
  auto normalised = router::normalize_path(req_.path);
  if (!normalised) {
    // A bad request target ends the connection (SPEC 4).
    co_await send_gateway_error(proxy::errors::bad_target());
    co_return;
  }
  path_ = std::move(*normalised);

  if (!config::detail::reserved_path_of(path_).empty()) {
    co_await handle_gateway_api();
    co_return;
  }

  snap_ = w_.server.snapshot(w_);
  const auto& snap = *snap_;
  const auto match = snap.routes->match(req_.method, path_, req_.api_version);
  if (match.kind == router::RouteMatch::Kind::no_route) {
    co_await send_gateway_error(proxy::errors::no_route());
    co_return;
  }
  if (match.kind == router::RouteMatch::Kind::unknown_version) {
    std::string detail = "no version \"";
    append_printable(detail, req_.api_version, 60);
    detail.append("\" of \"").append(match.name).append("\"; available: ").append(match.versions);
    co_await send_error(ErrorCode::no_route, detail);
    co_return;
  }
  const auto& ep = snap.endpoints[match.endpoint];
  ex_.endpoint = ep.config->id;
  ex_.metrics = ep.metrics.get();
  if (match.kind == router::RouteMatch::Kind::method_not_allowed) {
    std::string allow = "Allow: ";
    allow.append(match.allow);
    allow.append("\r\n");
    co_await send_gateway_error(proxy::errors::method_not_allowed(), ep.config->id, allow);
    co_return;
  }
  // The body's one size check: a declared length here, a chunked body as it grows.
  req_writer_.start(req_.body == http::BodyKind::chunked  ? http::Framing::chunked
                    : req_.body == http::BodyKind::length ? http::Framing::length
                                                          : http::Framing::none);
  if (req_body_.start(req_.body, req_.content_length, ep.config->max_body) ==
      http::BodyReader::Status::too_large) {
    co_await send_gateway_error(proxy::errors::body_too_large(false), ep.config->id);
    co_return;
  }
  if (ep.requires_jwt) {
    // Verified here, forwarded unchanged; nothing reaches the upstream on failure.
    const auto outcome = snap.verifier
                             ? admin::authorize(*snap.verifier, req_.fields, ep.config->scopes)
                             : admin::AuthOutcome{admin::AuthVerdict::invalid, {}, "no auth.jwt"};
    if (outcome.verdict != admin::AuthVerdict::ok) {
      log_auth_refusal(outcome);
      co_await send_reply(admin::auth_failure_reply(outcome), ep.config->id);
      co_return;
    }
  }
  if (ep.limiter) {
    // Rate-limit phase (SPEC 14): after authenticate, before the breaker.
    const config::Redis* redis = snap.config->redis ? &*snap.config->redis : nullptr;
    const ratelimit::Request rl_request{client_ip_, req_.fields};
    const auto rl = co_await ratelimit::check(*ep.limiter, w_.rate_limits, redis, rl_request,
                                              w_.server.metrics(), ex_.rate_limit_headers);
    if (rl.verdict == ratelimit::Verdict::limited) {
      char retry_after[32];
      const std::string_view extra(retry_after, ratelimit::format_retry_after(rl.retry_after_s, retry_after));
      const std::string detail = "rate limit of endpoint '" + ep.config->id + "' exceeded";
      co_await send_error(ErrorCode::rate_limited, detail, ep.config->id, extra);
      co_return;
    }
    if (rl.verdict == ratelimit::Verdict::unavailable) {
      co_await send_error(ErrorCode::rate_limit_unavailable, "the shared rate limit store did not answer",
                          ep.config->id);
      co_return;
    }
  }
  ex_.state = ep.state.get();
  co_await forward(ep, match.matched_prefix);
}

net::Task<void> Session::send_response(int status, std::string_view content_type,
                                       std::string_view body, std::string_view extra) {
  // A request body we did not read cannot be skipped safely: close after answering.
  if (req_.body != http::BodyKind::none && in_used_ == req_.head_size) ex_.close = true;
  if (w_.server.draining()) ex_.close = true;
  head_out_.clear();
  head_out_.append("HTTP/1.1 ");
  char num[16];
  auto [end, ec] = std::to_chars(num, num + sizeof num, status);
  head_out_.append(num, end);
  head_out_.push_back(' ');
  head_out_.append(reason_phrase(status));
  head_out_.append("\r\nContent-Type: ");
  head_out_.append(content_type);
  head_out_.append("\r\nContent-Length: ");
  auto [end2, ec2] = std::to_chars(num, num + sizeof num, body.size());
  head_out_.append(num, end2);
  head_out_.append("\r\nX-Request-Id: ");
  head_out_.append(request_id_);
  head_out_.append("\r\n");
  head_out_.append(extra);
  head_out_.append(ex_.rate_limit_headers.view());
  if (ex_.close) head_out_.append("Connection: close\r\n");
  else if (req_.minor == 0) head_out_.append("Connection: keep-alive\r\n");
  head_out_.append("\r\n");
  ex_.status = status;
  ex_.response_started = true;
  const bool head_only = req_.method == "HEAD";
  const asio::const_buffer parts[] = {asio::buffer(head_out_),
                                      asio::buffer(body.data(), head_only ? 0 : body.size())};
  const auto wec = co_await write_client(parts);
  if (wec) ex_.close = true;
}

net::Task<void> Session::send_error(ErrorCode code, std::string_view detail,
                                    std::string_view endpoint, std::string_view extra) {
  ex_.error = code;
  const std::string body = problem_json(code, detail, request_id_, endpoint);
  co_await send_response(status_of(code), "application/problem+json", body, extra);
}

config::Limits Session::current_limits() { return w_.server.snapshot(w_)->config->limits; }

void Session::ensure_relay() {
  if (relay_.empty()) w_.spare_relays.take(relay_, Worker::kRelayBuffer);
}

void Session::release_buffers() {
  w_.spare_relays.give(relay_, Worker::kRelayBuffer);
  w_.spare_heads.give(up_in_, Worker::kHeadBuffer);
  if (body_out_.capacity() > 4096) std::string().swap(body_out_);
  if (capture_.capacity() > 4096) std::string().swap(capture_);
}

void Session::log_access() {
  // Metrics are recorded for every request, whether or not the access log is on.
  const auto end = Clock::now();
  metrics::RequestSample sample;
  sample.method = metrics::method_of(req_.method);
  sample.status = ex_.status != 0 ? ex_.status : 499;  // no response sent: client closed
  sample.duration_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(end - ex_.start).count();
  sample.upstream_ns = ex_.upstream_ns;
  sample.error = ex_.error;
  sample.fallback = metrics::fallback_of(ex_.fallback);
  w_.server.metrics().record(ex_.metrics, w_.index, sample);

  if (!logging::access_log_enabled() || !logging::enabled(logging::Level::info)) return;
  const auto elapsed = std::chrono::duration<double, std::milli>(end - ex_.start);
  logging::AccessRecord r;
  r.request_id = request_id_;
  r.client = client_ip_;
  r.method = req_.method;
  r.path = path_.empty() ? req_.path : std::string_view(path_);
  r.status = ex_.status;
  r.endpoint = ex_.endpoint;
  r.upstream_status = ex_.upstream_status;
  r.bytes_in = ex_.bytes_in;
  r.bytes_out = ex_.bytes_out;
  r.duration_ms = elapsed.count();
  r.breaker = ex_.state ? health::to_string(ex_.state->breaker().state()) : std::string_view();
  r.fallback = ex_.fallback;
  logging::access(r);
  path_.clear();
}

}  // namespace gatehouse::server
