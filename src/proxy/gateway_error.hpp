// proxy/: the one error model of the request path. Every way a request can fail is a
// GatewayError saying what failed (the code), who failed (client, upstream, gateway),
// whether a fresh upstream connection may succeed, and whether the connection's byte
// stream is still in step; dispose() turns it into the answer's status, whether the
// connection closes, and what the breaker records.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/problem.hpp"
#include "health/endpoint_state.hpp"
#include "http/message.hpp"
#include "net/connect.hpp"

namespace gatehouse::proxy {

enum class Party : std::uint8_t { client, upstream, gateway };

struct GatewayError {
  ErrorCode code = ErrorCode::internal_error;
  Party who = Party::gateway;
  // The upstream closed a reused connection before answering: one fresh try may succeed.
  bool retryable = false;
  // The connection is out of step (an unread or half-sent body, a broken head): it must
  // close after the answer.
  bool desync = false;
  // The client is gone: nothing can be answered (logged as 499).
  bool client_gone = false;
  std::string_view detail;
};

struct Disposition {
  int status = 0;                 // 0: nothing is sent
  bool close = false;
  health::Outcome outcome = health::Outcome::aborted;  // for an admitted request
};

// The single mapping of the request path.
inline Disposition dispose(const GatewayError& e) {
  Disposition d;
  d.status = e.client_gone ? 0 : status_of(e.code);
  d.close = e.desync || e.client_gone || e.code == ErrorCode::draining ||
            e.code == ErrorCode::internal_error;
  // Only the upstream's own failures count against it; the client's and ours do not.
  d.outcome = e.who == Party::upstream ? health::Outcome::failure : health::Outcome::aborted;
  return d;
}

// The situations, named once.
namespace errors {

// A request head the parser refused (all end the connection: SPEC 4).
GatewayError from_head(http::HeadError err);
inline GatewayError head_timeout() {
  return {ErrorCode::request_timeout, Party::client, false, true, false,
          "request headers not received in time"};
}
inline GatewayError plain_http_on_tls() {
  return {ErrorCode::bad_request, Party::client, false, true, false,
          "plain HTTP request sent to a TLS listener"};
}
inline GatewayError upgrade() {
  return {ErrorCode::not_implemented, Party::client, false, false, false,
          "protocol upgrades are not supported"};
}
// A WebSocket handshake that is not one (SPEC 15: not GET over HTTP/1.1, or without
// Connection: upgrade), and one to an endpoint with `websocket: false`.
inline GatewayError bad_websocket_handshake(std::string_view why) {
  return {ErrorCode::bad_request, Party::client, false, false, false, why};
}
inline GatewayError websocket_disabled() {
  return {ErrorCode::not_implemented, Party::client, false, false, false,
          "WebSocket is disabled for this endpoint"};
}
inline GatewayError bad_target() {
  return {ErrorCode::bad_request, Party::client, false, true, false, "invalid request path"};
}
inline GatewayError no_route() {
  return {ErrorCode::no_route, Party::client, false, false, false, "no route for this path"};
}
inline GatewayError method_not_allowed() {
  return {ErrorCode::method_not_allowed, Party::client, false, false, false, "method not allowed"};
}
// A declared length over the limit is refused before any body byte is read; a chunked
// body is refused as it grows, mid-stream.
inline GatewayError body_too_large(bool mid_body) {
  return {ErrorCode::payload_too_large, Party::client, false, mid_body, false,
          "request body exceeds the limit"};
}
inline GatewayError bad_chunked_body() {
  return {ErrorCode::bad_request, Party::client, false, true, false, "malformed chunked body"};
}
inline GatewayError client_gone() {
  return {ErrorCode::bad_request, Party::client, false, true, true, {}};
}
inline GatewayError draining() {
  return {ErrorCode::draining, Party::gateway, false, true, false, "gateway is draining"};
}
inline GatewayError internal() {
  return {ErrorCode::internal_error, Party::gateway, false, true, false, "internal error"};
}
inline GatewayError connect_failed(net::ConnectError e) {
  if (e == net::ConnectError::timeout)
    return {ErrorCode::upstream_timeout, Party::upstream, false, false, false,
            "upstream connect timed out"};
  return {ErrorCode::upstream_error, Party::upstream, false, false, false,
          "upstream connection failed"};
}
// No usable response head. `body` (the request had one): it may be partly unread.
inline GatewayError no_response(bool timed_out, bool retryable, bool body) {
  if (timed_out)
    return {ErrorCode::upstream_timeout, Party::upstream, false, body, false,
            "upstream did not answer in time"};
  return {ErrorCode::upstream_error, Party::upstream, retryable, body, false,
          "invalid or no response from upstream"};
}
// The upstream failed after its head was relayed: the client's answer is cut.
inline GatewayError broken_response() {
  return {ErrorCode::upstream_error, Party::upstream, false, true, true, {}};
}

}  // namespace errors
}  // namespace gatehouse::proxy
