// server/: the request pipeline. run() takes one request whose head was read through
// its phases, top to bottom:
//   precheck -> route -> [gateway API] -> authenticate -> rate limit -> prepare
//   -> admit (breaker; fallback) -> forward -> finish (problem+json, access line)
// A phase returns whether the request goes on. One that refuses it either answers
// itself (the gateway API, an auth challenge, a fallback) or sets ctx.failure, which
// finish() answers. Phases that decide without I/O are plain functions; the others are
// coroutines entered only when the endpoint uses them.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "admin/admin.hpp"
#include "common/problem.hpp"
#include "net/frame_pool.hpp"
#include "net/io.hpp"
#include "proxy/gateway_error.hpp"
#include "registry/snapshot.hpp"
#include "server/forward.hpp"
#include "server/request_context.hpp"

namespace gatehouse::ratelimit {
struct Outcome;
}

namespace gatehouse::server {

struct Worker;
class Connection;

// With its RequestContext, Forwarder and UpstreamExchange it is the state of one request
// (about 1.7 KiB, and the capacity its containers grew to). A connection holds one only
// while it reads or serves requests: a parked one gives it back to the worker
// (Worker::spare_pipelines), and the next connection to need one is bound to it.
class Pipeline {
 public:
  Pipeline(Worker& w, Connection& conn);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  net::Task<void> run();
  // Answers a failure of the head reading (malformed, too slow) and logs the request.
  net::Task<void> refuse(const proxy::GatewayError& e);

  RequestContext& context() { return ctx_; }
  Forwarder& forwarder() { return forwarder_; }
  // Taken from the worker's spares: serves `conn` from now on.
  void bind(Connection& conn) {
    conn_ = &conn;
    forwarder_.bind(conn);
  }
  // Given back to the worker's spares: frees what only a request in progress needs and
  // lets go of the config snapshot (a spare must not keep a replaced one alive).
  void unbind();

 private:
  // The phases (pipeline.cpp).
  bool precheck();
  bool websocket_handshake();
  bool route();
  admin::AuthOutcome authenticate();
  net::Task<void> refuse_unauthenticated(const admin::AuthOutcome& outcome);
  bool rate_limit_local();
  net::Task<bool> rate_limit_shared();
  bool rate_limit_verdict(const ratelimit::Outcome& rl);
  bool prepare();
  bool admit();
  void finish();

  // The gateway's own API, a kind of route (gateway_api.cpp).
  net::Task<void> gateway_api();
  net::Task<void> handle_admin();
  net::Task<void> handle_metrics();
  // Checks the bearer token for an admin API needing `scope`; false when it answered
  // the refusal itself.
  net::Task<bool> admit_admin(const registry::Snapshot& snap, const std::string& scope);
  void log_auth_refusal(const admin::AuthOutcome& outcome);

  // The fallbacks of an open breaker (fallback.cpp).
  net::Task<void> send_fallback(const registry::EndpointRuntime& ep);

  // Gateway-made answers and the access line (respond.cpp).
  net::Task<void> send_response(int status, std::string_view content_type, std::string_view body,
                                std::string_view extra = {});
  net::Task<void> send_error(ErrorCode code, std::string_view detail, std::string_view extra = {});
  // The answer to a GatewayError, by proxy::dispose() (status, close).
  net::Task<void> send_gateway_error(const proxy::GatewayError& e, std::string_view extra = {});
  net::Task<void> send_reply(const admin::Reply& reply);
  void log_access();

  Worker& w_;
  Connection* conn_;
  RequestContext ctx_;
  Forwarder forwarder_;  // after ctx_: it and its exchange refer to it
};

}  // namespace gatehouse::server

// The request pipeline's coroutine frames come from the per-thread pool.
template <>
inline constexpr bool gatehouse::net::pooled_coroutines<gatehouse::server::Pipeline> = true;
