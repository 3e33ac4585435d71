// The request pipeline's phases, in the order run() takes them.
#include "server/pipeline.hpp"

#include "config/addresses.hpp"
#include "http/headers.hpp"
#include "logging/log.hpp"
#include "ratelimit/phase.hpp"
#include "router/normalize.hpp"
#include "server/connection.hpp"
#include "server/server.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

using net::Clock;

namespace {
// A client-sent value quoted in a message: printable ASCII as is, quotes, backslashes
// and other bytes as \xNN (so the JSON stays valid UTF-8), cut at `max` bytes of input.
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

Pipeline::Pipeline(Worker& w, Connection& conn) : w_(w), conn_(&conn), forwarder_(w, conn, ctx_) {}

void Pipeline::unbind() {
  forwarder_.trim();
  forwarder_.exchange().release_deadline();
  ctx_.snap.reset();
}

void PipelineDelete::operator()(Pipeline* p) const noexcept { delete p; }

net::Task<void> Pipeline::run() {
  w_.server.requests_active.fetch_add(1, std::memory_order_relaxed);
  auto& req = ctx_.req;
  if (http::is_sane_request_id(req.request_id)) ctx_.request_id.assign(req.request_id);
  else http::generate_request_id(ctx_.request_id);
  if (!req.keep_alive) ctx_.close = true;

  bool failed = false;
  std::string what;
  try {
    // The phases that may need I/O before they decide are coroutines, entered only when
    // the endpoint uses them: a plain request allocates no frame for them.
    bool go = precheck() && route();
    if (go && !ctx_.endpoint && ctx_.websocket) {
      ctx_.fail(proxy::errors::upgrade());  // the gateway's own API does not upgrade
      go = false;
    }
    if (go && !ctx_.endpoint) {
      co_await gateway_api();
      go = false;
    }
    if (go && ctx_.endpoint->requires_jwt) {
      if (auto outcome = authenticate(); outcome.verdict != admin::AuthVerdict::ok) {
        co_await refuse_unauthenticated(outcome);
        go = false;
      }
    }
    if (go && ctx_.endpoint->limiter) {
      go = ctx_.endpoint->limiter->shared() ? co_await rate_limit_shared() : rate_limit_local();
    }
    if (go) go = prepare();
    if (go && !admit()) {
      co_await send_fallback(*ctx_.endpoint);
      go = false;
    }
    if (go) {
      // forward: the Forwarder runs the upstream part (forward.cpp).
      auto err = co_await forwarder_.run(*ctx_.endpoint);
      if (err) ctx_.fail(*err);
    }
  } catch (const std::exception& e) {
    failed = true;
    what = e.what();
  }
  if (failed) {
    logging::error("unexpected exception while handling a request",
                   {{"request_id", std::string_view(ctx_.request_id)},
                    {"error", std::string_view(what)},
                    {"stack", std::string_view(logging::current_stacktrace())}});
    ctx_.close = true;
    ctx_.fail(proxy::errors::internal());
  }
  // finish: the one place a refused request is answered, and every request is logged.
  if (ctx_.failure && !ctx_.response_started) {
    const auto failure = *ctx_.failure;
    co_await send_gateway_error(failure, ctx_.extra);
  }
  finish();
  // A 101 was relayed: the connection is a tunnel now, logged and counted as a request
  // until it closes (a drain gives it shutdown_grace).
  if (forwarder_.tunnel_pending()) co_await forwarder_.run_tunnel();
  w_.server.requests_active.fetch_sub(1, std::memory_order_relaxed);
}

// Protocol checks that need no config: upgrades, the request target.
bool Pipeline::precheck() {
  if (ctx_.req.upgrade && !websocket_handshake()) return false;
  auto normalised = router::normalize_path(ctx_.req.path);
  if (!normalised) {
    ctx_.fail(proxy::errors::bad_target());  // ends the connection (SPEC 4)
    return false;
  }
  ctx_.path = std::move(*normalised);
  return true;
}

// `Upgrade: websocket` is tunnelled (SPEC 15) when asked for properly; any other upgrade
// is not implemented (SPEC 4).
bool Pipeline::websocket_handshake() {
  const auto& req = ctx_.req;
  if (!http::iequals(req.upgrade_value, "websocket")) {
    ctx_.fail(proxy::errors::upgrade());
    return false;
  }
  if (req.method != "GET" || req.minor != 1) {
    ctx_.fail(proxy::errors::bad_websocket_handshake(
        "a WebSocket upgrade must be a GET request over HTTP/1.1"));
    return false;
  }
  if (!req.connection_upgrade) {
    ctx_.fail(proxy::errors::bad_websocket_handshake(
        "a WebSocket upgrade needs Connection: upgrade"));
    return false;
  }
  ctx_.websocket = true;
  return true;
}

// The route: a reserved path (the gateway API: ctx.endpoint stays null), or an endpoint,
// its method, and the body's declared size.
bool Pipeline::route() {
  if (!config::detail::reserved_path_of(ctx_.path).empty()) return true;
  ctx_.snap = w_.server.snapshot(w_);
  const auto& snap = *ctx_.snap;
  const auto& req = ctx_.req;
  const auto match = snap.routes->match(req.method, ctx_.path, req.api_version);
  if (match.kind == router::RouteMatch::Kind::no_route) {
    ctx_.fail(proxy::errors::no_route());
    return false;
  }
  if (match.kind == router::RouteMatch::Kind::unknown_version) {
    ctx_.detail.assign("no version \"");
    append_printable(ctx_.detail, req.api_version, 60);
    ctx_.detail.append("\" of \"").append(match.name).append("\"; available: ").append(match.versions);
    auto e = proxy::errors::no_route();
    e.detail = ctx_.detail;
    ctx_.fail(e);
    return false;
  }
  const auto& ep = snap.endpoints[match.endpoint];
  ctx_.endpoint_id = ep.config->id;
  ctx_.metrics = ep.metrics.get();
  if (match.kind == router::RouteMatch::Kind::method_not_allowed) {
    ctx_.fail(proxy::errors::method_not_allowed());
    ctx_.extra.assign("Allow: ").append(match.allow).append("\r\n");
    return false;
  }
  if (!forwarder_.exchange().start_request_body(ep.config->max_body)) {
    ctx_.fail(proxy::errors::body_too_large(false));
    return false;
  }
  if (ctx_.websocket && !ep.config->websocket) {
    ctx_.fail(proxy::errors::websocket_disabled());
    return false;
  }
  ctx_.endpoint = &ep;
  ctx_.matched_prefix = match.matched_prefix;
  return true;
}

// `auth_type: jwt`: verified here, forwarded unchanged; nothing reaches the upstream on
// failure.
// The check itself is no coroutine: an accepted token (a cache hit, mostly) costs no
// frame; only a refusal is answered from one.
admin::AuthOutcome Pipeline::authenticate() {
  const auto& ep = *ctx_.endpoint;
  const auto& snap = *ctx_.snap;
  return snap.verifier ? admin::authorize(*snap.verifier, ctx_.req.fields, ep.config->scopes)
                       : admin::AuthOutcome{admin::AuthVerdict::invalid, {}, "no auth.jwt"};
}

net::Task<void> Pipeline::refuse_unauthenticated(const admin::AuthOutcome& outcome) {
  log_auth_refusal(outcome);
  co_await send_reply(admin::auth_failure_reply(outcome));
}

// Rate limiting (SPEC 14): after authentication, before the breaker. From here on every
// answer carries the RateLimit-* fields. A local limit decides without I/O and costs no
// coroutine frame; only a shared one (Redis) is awaited.
bool Pipeline::rate_limit_local() {
  const ratelimit::Request request{conn_->client_ip(), ctx_.req.fields};
  return rate_limit_verdict(ratelimit::check_local(*ctx_.endpoint->limiter, w_.rate_limits,
                                                   request, ctx_.rate_limit_headers));
}

net::Task<bool> Pipeline::rate_limit_shared() {
  const auto& snap = *ctx_.snap;
  const config::Redis* redis = snap.config->redis ? &*snap.config->redis : nullptr;
  const ratelimit::Request request{conn_->client_ip(), ctx_.req.fields};
  co_return rate_limit_verdict(co_await ratelimit::check_shared(
      *ctx_.endpoint->limiter, w_.rate_limits, redis, request, w_.server.metrics(),
      ctx_.rate_limit_headers));
}

bool Pipeline::rate_limit_verdict(const ratelimit::Outcome& rl) {
  if (rl.verdict == ratelimit::Verdict::allowed || rl.verdict == ratelimit::Verdict::unchecked)
    return true;
  if (rl.verdict == ratelimit::Verdict::limited) {
    char retry_after[32];
    const std::string_view extra(retry_after,
                                 ratelimit::format_retry_after(rl.retry_after_s, retry_after));
    ctx_.detail.assign("rate limit of endpoint '").append(ctx_.endpoint->config->id).append("' exceeded");
    proxy::GatewayError e{ErrorCode::rate_limited, proxy::Party::client, false, false, false,
                          ctx_.detail};
    ctx_.fail(e, extra);
  } else {
    ctx_.fail({ErrorCode::rate_limit_unavailable, proxy::Party::gateway, false, false, false,
               "the shared rate limit store did not answer"});
  }
  return false;
}

// The path towards the upstream, and the body bytes that came with the head: a malformed
// chunked body is refused here, before any server is chosen or breaker asked.
bool Pipeline::prepare() {
  ctx_.prepared = true;
  auto err = forwarder_.prepare(*ctx_.endpoint);
  if (!err) return true;
  ctx_.fail(*err);
  return false;
}

// A server whose breaker admits the request and whose health is not down (SPEC 13);
// when none can take it, the upstream sees nothing and the fallback answers (run()
// sends it).
bool Pipeline::admit() {
  const auto& ep = *ctx_.endpoint;
  if (forwarder_.choose(ep)) return true;
  ep.stats->record_fallback();
  return false;
}

// After the answer: a failure that cut a started response closes the connection; the
// metrics sample and the access line.
void Pipeline::finish() {
  if (ctx_.failure && proxy::dispose(*ctx_.failure).close) ctx_.close = true;
  log_access();
  ctx_.snap.reset();
}

net::Task<void> Pipeline::refuse(const proxy::GatewayError& e) {
  ctx_.req.clear();
  ctx_.request_id.clear();
  http::generate_request_id(ctx_.request_id);
  co_await send_gateway_error(e);
  log_access();
}

}  // namespace gatehouse::server
