// The Forwarder: the server, the connection (pooled or new), one exchange per try, the
// stale keep-alive retry, retries over the endpoint's servers, and each try's outcome
// recorded into its server's state at exactly one point.
#include "server/forward.hpp"

#include "balance/request_key.hpp"
#include "logging/log.hpp"
#include "proxy/retry_cause.hpp"
#include "proxy/rewrite.hpp"
#include "server/connection.hpp"
#include "server/server.hpp"
#include "server/tunnel.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

using net::Clock;

Forwarder::Forwarder(Worker& w, Connection& conn, RequestContext& ctx)
    : w_(w), conn_(&conn), ctx_(ctx), exchange_(w, conn, ctx, *this), backoff_(w.ctx.get_executor()) {}

std::optional<proxy::GatewayError> Forwarder::prepare(const registry::EndpointRuntime& ep) {
  const auto& cfg = *ep.config;
  // Every server has the same base path (SPEC 2), so the path is the same for all tries.
  proxy::upstream_path(cfg.url.base_path, ctx_.matched_prefix, ctx_.path, cfg.strip_prefix,
                       ctx_.up_path);
  return exchange_.take_ahead_body();
}

void Forwarder::build_head(const registry::EndpointRuntime& ep) {
  const auto& cfg = *ep.config;
  const auto& req = ctx_.req;
  proxy::ForwardInfo info;
  info.path = ctx_.up_path;
  info.host = cfg.preserve_host && !req.host.empty() ? req.host
                                                     : std::string_view(ctx_.server->host_header);
  info.client_ip = conn_->client_ip();
  info.proto = conn_->is_tls() ? "https" : "http";
  info.client_cert_subject = conn_->client_cert_subject();
  info.prefix = ctx_.matched_prefix;
  info.request_id = ctx_.request_id;
  info.websocket = ctx_.websocket;
  proxy::build_upstream_head(req, info, exchange_.head_out());
}

void Forwarder::select(const registry::EndpointRuntime& ep, std::size_t server,
                       const health::Admission& a) {
  ctx_.server_index = server;
  ctx_.server = &ep.servers[server];
  ctx_.state = ctx_.server->state.get();
  ctx_.admission = a;
}

// SPEC 13 for several servers: the breaker admits and the health is not down. One server
// keeps SPEC 5's own rule (its breaker alone decides: a half-open trial goes through
// even while its health is still down).
bool Forwarder::available(const registry::EndpointRuntime& ep, std::size_t server) const {
  auto& state = *ep.servers[server].state;
  return ep.servers.size() == 1 ? state.breaker().admits() : state.available();
}

bool Forwarder::choose(const registry::EndpointRuntime& ep) {
  const auto& cfg = *ep.config;
  key_.reset();
  if (cfg.load_balancing == config::LoadBalancing::hash)
    key_ = balance::request_key(cfg.hash_key, ctx_.req, conn_->client_ip());
  if (ep.servers.size() == 1) {
    // The one server's breaker decides, exactly as before there were several.
    const auto a = ep.servers.front().state->admit();
    select(ep, 0, a);
    return a.admitted();
  }
  // Availability is read without taking a half-open trial slot; the chosen server's
  // admit() may still refuse (another thread took the last slot): then it is left out
  // and the choice is made again.
  balance::TriedServers refused;
  const auto usable = [&](std::size_t i) { return !refused.contains(i) && available(ep, i); };
  const auto avail = balance::Availability::of(usable);
  for (std::size_t round = 0; round < ep.servers.size(); ++round) {
    const std::size_t i = ep.balancer->pick(w_.index, avail, key_);
    if (i == balance::kNone) break;
    const auto a = ep.servers[i].state->admit();
    if (a.admitted()) {
      select(ep, i, a);
      return true;
    }
    refused.add(i);
  }
  // None can take it: the fallback answers; Retry-After is the soonest server's.
  std::uint32_t retry_after = 0;
  for (const auto& server : ep.servers) {
    const auto s = server.state->breaker().retry_after_s();
    if (retry_after == 0 || s < retry_after) retry_after = s;
  }
  ctx_.server = nullptr;
  ctx_.state = nullptr;
  ctx_.admission = health::Admission{health::Admission::Verdict::rejected, 0,
                                     std::max<std::uint32_t>(1, retry_after)};
  return false;
}

net::Task<std::optional<proxy::GatewayError>> Forwarder::run(const registry::EndpointRuntime& ep) {
  const auto& cfg = *ep.config;
  const auto& req = ctx_.req;
  ep_ = &ep;
  started_ = Clock::now();
  try_started_ = started_;
  progress_ = Progress{};
  tried_ = {};
  retries_ = 0;
  same_server_retries_ = 0;
  next_.reset();
  request_recorded_ = false;
  last_outcome_ = health::Outcome::aborted;
  if (ep.budget) ep.budget->on_request(w_.index);
  if (req.expect_continue && req.body != http::BodyKind::none && req.minor == 1) {
    const auto ec = co_await conn_->write(std::string_view("HTTP/1.1 100 Continue\r\n\r\n"));
    if (ec) {
      ctx_.close = true;
      record_outcome(health::Outcome::aborted);
      record_request(health::Outcome::aborted);
      co_return std::nullopt;
    }
  }

  if (ep.retry && ep.retry->enabled() && ep.retry->method_retried(req.method)) {
    const bool whole = co_await exchange_.read_whole_body();
    if (!whole) {
      ctx_.close = true;
      record_outcome(health::Outcome::aborted);
      record_request(health::Outcome::aborted);
      ctx_.status = 499;
      co_return proxy::errors::client_gone();
    }
  }

  exchange_deadline_ = Clock::now() + cfg.timeout;
  std::optional<proxy::GatewayError> error;
  for (;;) {
    // One try: ctx_.server with ctx_.admission.
    ++ctx_.attempts;
    tried_.add(ctx_.server_index);
    const auto now = Clock::now();
    try_started_ = now;
    progress_ = Progress{};
    next_.reset();
    const auto try_deadline =
        ep.retry ? now + ep.retry->try_timeout(std::chrono::duration_cast<balance::Duration>(
                             exchange_deadline_ - now))
                 : exchange_deadline_;
    build_head(ep);
    const std::size_t server = ctx_.server_index;
    ep.balancer->begin(server);
    in_flight_server_ = server;
    in_flight_open_ = true;
    // The try, in this frame (no coroutine of its own): a pooled connection or a new
    // one, and the stale keep-alive retry (SPEC 13): a reused connection that the
    // upstream had closed before answering gets one fresh try (the exchange says when
    // sending the request twice is harmless). Not a retry: no attempt, no budget.
    const auto deadline_of_try = std::min(try_deadline, exchange_deadline_);
    for (int stale = 0;; ++stale) {
      std::unique_ptr<proxy::UpstreamConn> conn;
      if (stale == 0) conn = w_.connector->acquire(*ctx_.server);
      const bool reused = conn != nullptr;
      if (!conn) {
        progress_.connected = false;
        const auto connect_deadline = std::min(deadline_of_try, Clock::now() + cfg.connect_timeout);
        auto [cerr, fresh] = co_await w_.connector->connect(*ctx_.server, cfg, connect_deadline);
        if (cerr != net::ConnectError::none) {
          log_connect_failure(cerr);
          error = proxy::errors::connect_failed(cerr);
          break;
        }
        conn = std::move(fresh);
      }
      begin_exchange(*conn, deadline_of_try);
      error = co_await exchange_.run(*conn);
      if (end_exchange(ep, std::move(conn), error, reused && stale == 0)) break;
    }
    end_in_flight();

    // The try's outcome is recorded once: at the response head when its status counts as
    // a failure (or when the head was held back for a retry), when the body completed
    // (success), or here when neither came.
    if (!progress_.recorded) {
      if (!progress_.head && error) {
        ctx_.state->count_code(error->client_gone ? 499 : status_of(error->code));
        record_outcome(proxy::dispose(*error).outcome);
      } else if (!progress_.complete) {
        // The relay broke: the upstream's fault, or the client left (the upstream did its part).
        record_outcome(error && error->who == proxy::Party::upstream ? health::Outcome::failure
                                                                      : health::Outcome::success);
      }
    }
    if (exchange_.held() && next_) {
      // A failure status held back (never relayed): the planned retry goes on.
    } else if (error && !progress_.head) {
      // No response: retried when SPEC 13 allows it.
      const proxy::TryProgress tp{progress_.connected, exchange_.request_sent(), false};
      const auto outcome = proxy::try_outcome(*error, tp);
      if (outcome) next_ = plan_retry(ep, *outcome);
      if (!next_) break;
    } else {
      break;  // relayed, or cut after its head
    }
    if (next_->same_server) {
      // Back to a server already tried: a jittered pause first (no pause for another).
      backoff_.expires_after(balance::retry_backoff(same_server_retries_++, w_.rng));
      co_await backoff_.async_wait(net::use_task);
    }
    select(ep, next_->server, next_->admission);
    ctx_.upstream_status = 0;
  }

  if (!request_recorded_) record_request(last_outcome_);
  if (!error) co_return std::nullopt;
  if (error->client_gone && !progress_.head) ctx_.status = 499;  // client went away mid-body
  if (progress_.head) {
    ctx_.close = true;  // the answer is cut: nothing more can be said on this connection
    co_return std::nullopt;
  }
  co_return error;
}

void Forwarder::log_connect_failure(net::ConnectError cerr) const {
  logging::debug("upstream connect failed", {{"endpoint", std::string_view(ep_->config->id)},
                                             {"upstream", std::string_view(ctx_.server->authority)},
                                             {"request_id", std::string_view(ctx_.request_id)},
                                             {"reason", net::to_string(cerr)}});
}

void Forwarder::begin_exchange(proxy::UpstreamConn& conn, Clock::time_point deadline) {
  progress_.connected = true;
  exchange_.deadline().arm(deadline, &conn.socket());
  conn_now_ = &conn;
}

bool Forwarder::end_exchange(const registry::EndpointRuntime& ep,
                             std::unique_ptr<proxy::UpstreamConn> conn,
                             const std::optional<proxy::GatewayError>& error, bool may_retry_stale) {
  exchange_.deadline().disarm();
  conn_now_ = nullptr;
  if (!error) {
    if (exchange_.upgraded()) {
      // Switched protocols: the connection belongs to the tunnel, never to the pool.
      tunnel_conn_ = std::move(conn);
      tunnel_idle_ = ep.config->timeout;
      tunnel_metrics_ = ep.metrics;
    } else if (exchange_.reusable()) {
      w_.connector->release(std::move(conn));
    }
    return true;
  }
  // A broken connection is never reused (conn goes here).
  return !(error->retryable && may_retry_stale);
}

std::optional<Forwarder::Next> Forwarder::plan_retry(const registry::EndpointRuntime& ep,
                                                     const balance::TryOutcome& outcome) {
  if (!ep.retry || !ep.retry->enabled()) return std::nullopt;
  const auto now = Clock::now();
  const balance::RequestFacts facts{ctx_.req.method, exchange_.body_replayable()};
  const auto left = std::chrono::duration_cast<balance::Duration>(exchange_deadline_ - now);
  if (ep.retry->decide(outcome, facts, retries_, left) != balance::RetryVerdict::retry)
    return std::nullopt;
  balance::TriedServers refused;
  const auto usable = [&](std::size_t i) { return !refused.contains(i) && available(ep, i); };
  const auto avail = balance::Availability::of(usable);
  bool budget_taken = false;
  const auto steady = ep.budget->now();
  // A retry that no server admits is not made: its unit of the budget goes back.
  const auto none_admits = [&]() -> std::optional<Next> {
    if (budget_taken) ep.budget->refund(w_.index, steady);
    return std::nullopt;
  };
  for (std::size_t round = 0; round < ep.servers.size(); ++round) {
    const auto pick = balance::pick_for_retry(*ep.balancer, w_.index, avail, key_, tried_);
    if (pick.server == balance::kNone) return none_admits();  // none can take it: answered
    if (!budget_taken) {
      if (!ep.budget->try_acquire(w_.index, steady)) {
        if (ctx_.metrics) ctx_.metrics->count_budget_exhausted();
        return std::nullopt;
      }
      budget_taken = true;
    }
    const auto a = ep.servers[pick.server].state->admit();
    if (!a.admitted()) {
      refused.add(pick.server);
      continue;
    }
    ++retries_;
    if (ctx_.metrics) ctx_.metrics->count_retry(balance::reason(outcome));
    logging::debug("retrying", {{"endpoint", std::string_view(ep.config->id)},
                                {"request_id", std::string_view(ctx_.request_id)},
                                {"reason", balance::reason(outcome)},
                                {"upstream", std::string_view(ep.servers[pick.server].authority)}});
    return Next{pick.server, a, pick.same_server};
  }
  return none_admits();
}

net::Task<void> Forwarder::run_tunnel() {
  auto upstream = std::move(tunnel_conn_);
  auto metrics = std::move(tunnel_metrics_);
  const auto started = Clock::now();
  // Bytes the client sent after its handshake are the tunnel's first ones.
  auto& in = conn_->input();
  const std::string_view ahead = in.unused();
  in.used = in.len;
  release_buffers();  // the tunnel has its own two
  if (metrics) metrics->tunnel_opened();
  w_.server.tunnels_active.fetch_add(1, std::memory_order_relaxed);
  Tunnel tunnel(conn_->stream(), upstream->stream(), tunnel_idle_);
  conn_->set_tunnel(&tunnel);
  co_await tunnel.run(ahead);
  conn_->set_tunnel(nullptr);
  upstream->stream().close();
  if (metrics) metrics->tunnel_closed();
  w_.server.tunnels_active.fetch_sub(1, std::memory_order_relaxed);
  // The handshake had its access line; the tunnel's own says what it carried (SPEC 9).
  if (logging::access_log_enabled() && logging::enabled(logging::Level::info)) {
    const auto ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    logging::info("websocket tunnel closed",
                  {{"request_id", std::string_view(ctx_.request_id)},
                   {"client", std::string_view(conn_->client_ip())},
                   {"endpoint", metrics ? std::string_view(metrics->id()) : std::string_view()},
                   {"status", static_cast<std::int64_t>(101)},
                   {"bytes_in", static_cast<std::int64_t>(tunnel.bytes_up())},
                   {"bytes_out", static_cast<std::int64_t>(tunnel.bytes_down())},
                   {"duration_ms", ms},
                   {"end", Tunnel::to_string(tunnel.end())}});
  }
}

bool Forwarder::on_response_head(const http::ResponseHead& res) {
  progress_.head = true;
  ctx_.upstream_status = res.status;
  ctx_.state->count_code(res.status);
  progress_.failure_status = ctx_.state->is_failure_status(res.status);
  if (progress_.failure_status) record_outcome(health::Outcome::failure);
  if (res.status == 101) {
    // The handshake's outcome is the upstream's whole part (SPEC 15): the tunnel's later
    // life does not count.
    progress_.complete = true;
    if (!progress_.failure_status) {
      record_outcome(health::Outcome::success);
      record_request(health::Outcome::success);
    } else {
      record_request(health::Outcome::failure);
    }
    return true;
  }
  // A status in retries.on is held back, unrelayed, when a retry will be made; the try
  // counts for its server by section 5's rules either way.
  const auto outcome = balance::status_outcome(res.status);
  if (ep_->retry && ep_->retry->enabled() && ep_->retry->retries_on(outcome)) {
    if (!progress_.failure_status) {
      // Decided before the switch: a status that is no failure for the breaker is a success.
      auto planned = plan_retry(*ep_, outcome);
      if (planned) {
        record_outcome(health::Outcome::success);
        next_ = planned;
        return false;
      }
    } else {
      next_ = plan_retry(*ep_, outcome);
      if (next_) return false;
    }
  }
  if (progress_.failure_status) record_request(health::Outcome::failure);
  // Relayed from here on: no retry can follow, so the rest of the endpoint's `timeout`
  // applies rather than the try's.
  if (conn_now_) exchange_.deadline().arm(exchange_deadline_, &conn_now_->socket());
  capture_.start(ep_->stats->cache(), ctx_.req, res, ctx_.path);
  return true;
}

void Forwarder::on_body_complete() {
  progress_.complete = true;
  // The upstream is done with it: a request arriving while the client's last bytes are
  // written already sees this server as free (least_request).
  end_in_flight();
  capture_.finish(ep_->stats->cache(), ctx_.req, exchange_.response(), ctx_.path, true);
  // Recorded before the client's last bytes are written, so its next request already
  // sees the breaker's verdict (a late success would reset a newer failure).
  if (!progress_.failure_status) {
    record_outcome(health::Outcome::success);
    record_request(health::Outcome::success);
  }
}

void Forwarder::on_relay_end() {
  capture_.finish(ep_->stats->cache(), ctx_.req, exchange_.response(), ctx_.path, false);
}

void Forwarder::record_outcome(health::Outcome outcome) {
  if (progress_.recorded) return;  // exactly once per try
  progress_.recorded = true;
  last_outcome_ = outcome;
  const auto now = Clock::now();
  ctx_.state->record(ctx_.admission, outcome, now - try_started_, now);
}

void Forwarder::record_request(health::Outcome outcome) {
  if (request_recorded_) return;
  request_recorded_ = true;
  const auto now = Clock::now();
  const auto took = now - started_;
  // Aborted: the client went away before the upstream had its say; no upstream timing.
  if (outcome != health::Outcome::aborted)
    ctx_.upstream_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
  ep_->stats->record(outcome, took, now);
}

}  // namespace gatehouse::server
