// server/: one upstream exchange on one connection: send the request (head and body),
// read the response head, relay the response to the client. It reports what happens
// (the head arrived, a body piece, the body completed) to its Forwarder; it records
// nothing itself.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/body.hpp"
#include "http/message.hpp"
#include "net/deadline.hpp"
#include "net/frame_pool.hpp"
#include "net/io.hpp"
#include "net/splice.hpp"
#include "proxy/gateway_error.hpp"
#include "proxy/upstream.hpp"
#include "server/request_context.hpp"

namespace gatehouse::server {

struct Worker;
class Connection;
class Forwarder;

class UpstreamExchange {
 public:
  UpstreamExchange(Worker& w, Connection& conn, RequestContext& ctx, Forwarder& events);

  // The request body's framing and its one size check (a declared length here, a
  // chunked body as it grows); false: a declared length over `max_body`.
  bool start_request_body(std::uint64_t max_body);
  // The chunked body bytes that came with the head, decoded before any upstream is
  // contacted, so a malformed body is refused without reaching it.
  std::optional<proxy::GatewayError> take_ahead_body();

  // One exchange on `conn`; nullopt when the response was relayed completely, or when
  // the Forwarder's on_response_head() asked to stop at the head (held(): a status to be
  // retried elsewhere; nothing of it reached the client). A failure says whether
  // sending the request again on a fresh connection is harmless. Called again for a
  // retry, it sends the same request (head_out() rebuilt by the Forwarder) with the kept
  // body (see body_replayable()).
  net::Task<std::optional<proxy::GatewayError>> run(proxy::UpstreamConn& conn);
  // After a complete exchange: the connection may go back to the pool. A response held
  // back unread never lets its connection be reused.
  bool reusable() const {
    return !upgraded_ && res_.keep_alive && up_len_ == 0 && !deadline_->fired() && !held_;
  }
  bool held() const { return held_; }
  // Whether any try of this request began writing it to an upstream (a write that failed
  // at once counts too: the upstream may have read part of it).
  bool request_sent() const { return sent_; }
  // Whether the request can be sent again (SPEC 13): no body, or a body the gateway still
  // holds whole, at most balance::kMaxRetryBody. The gateway keeps a body only when all of
  // it came with the head (it is then still in the connection's read buffer, or for a
  // chunked body decoded and re-encoded in one buffer); a body still being read from the
  // client when the first try started is streamed through and cannot be replayed.
  bool body_replayable() const;
  // Before the first try of a request whose method is retried after reaching an
  // upstream: a Content-Length body of at most balance::kMaxRetryBody still on its way
  // is read whole first (kept until the request ends, in a buffer of its own: the read
  // buffer cannot grow, the head's fields are views into it), so that a retry can send
  // it again. False: the client went away.
  net::Task<bool> read_whole_body();
  // A 101 answer to a WebSocket handshake was relayed: the connections carry a tunnel now.
  bool upgraded() const { return upgraded_; }

  http::ResponseHead& response() { return res_; }
  std::string& head_out() { return head_out_; }
  net::Deadline& deadline() { return *deadline_; }
  bool request_body_done() const { return req_body_.done(); }

  // Buffers lent per request, and what an idle connection gives back.
  void release_buffers();
  void trim();
  void stop() { deadline_->stop(); }
  void release_deadline() { deadline_->release(); }
  // The pipeline owning this exchange now serves `conn`.
  void bind(Connection& conn) { conn_ = &conn; }

 private:
  // The common request, without a body or with all of it come with the head, is sent
  // here when the socket takes it at once: no coroutine frame. Returns true when that
  // ended the send (`result`: none, or the failure); false when send_request must do it,
  // all of it, or (kept_ set, `done` > 0) the rest of the kept write.
  bool send_now(proxy::UpstreamConn& conn, bool& nothing_sent,
                std::optional<proxy::GatewayError>& result, std::size_t& done);
  // The body bytes that came with the head, taken from the client's input: a length
  // body's as they are (a chunked body's were decoded and re-encoded into body_out_
  // by take_ahead_body); a body all here is kept.
  std::string_view take_head_body();
  proxy::GatewayError upstream_write_failed() const;
  // `done`: bytes of the kept write (head, kept body) that send_now sent already.
  net::Task<std::optional<proxy::GatewayError>> send_request(proxy::UpstreamConn& conn,
                                                             bool& nothing_sent, std::size_t done);
  net::Task<std::optional<proxy::GatewayError>> read_response_head(proxy::UpstreamConn& conn);
  // The request body after what came with the head, as it arrives (exchange_relay.cpp).
  net::Task<std::optional<proxy::GatewayError>> stream_request_body(proxy::UpstreamConn& conn);
  net::Task<std::optional<proxy::GatewayError>> relay_response(proxy::UpstreamConn& conn);
  net::Task<std::optional<proxy::GatewayError>> relay_switching_head();
  // Whether body bytes may go socket to socket inside the kernel (net/splice.hpp): both
  // connections plain. Each span also needs a pipe from the thread's pool.
  bool can_splice(proxy::UpstreamConn& conn) const;
  // Moves the next `span` body bytes through `pipe`, from the client to the upstream
  // (`upload`) or back, each end under its deadline.
  net::Task<net::SpliceResult> splice_span(net::SplicePipe& pipe, proxy::UpstreamConn& conn,
                                           bool upload, std::uint64_t span);
  static std::optional<proxy::GatewayError> body_error(http::BodyReader::Status st);
  void ensure_relay();

  Worker& w_;
  Connection* conn_;  // the client connection of the request (the pipeline is lent per request)
  RequestContext& ctx_;
  Forwarder& events_;
  std::shared_ptr<net::Deadline> deadline_;  // the upstream exchange's timeout
  http::ResponseHead res_;
  http::BodyReader req_body_;     // the request body, as it is read from the client
  http::BodyWriter req_writer_;   // ... and framed towards the upstream
  http::BodyReader res_body_;     // the response body, as it is read from the upstream
  http::BodyWriter res_writer_;   // ... and framed towards the client
  std::vector<char> relay_;       // body relay buffer, lent per request
  std::vector<char> up_in_;       // upstream read buffer (response head and ahead bytes)
  std::size_t up_len_ = 0;
  std::string body_out_;          // re-framed body bytes on their way out
  // Per request: for a retry of the request.
  bool sent_ = false;             // a try began writing the request
  bool kept_ = false;             // the whole body was in hand at the first write
  std::string_view kept_direct_;  // a length body's bytes: in the connection's buffer,
                                  // or in body_copy_ when read ahead for a retry
  std::string body_copy_;
  std::uint64_t ahead_decoded_ = 0;  // decoded chunked body bytes that came with the head
  bool held_ = false;             // this try stopped at the response head
  std::string head_out_;          // the head being sent (upstream request, client response)
  bool upgraded_ = false;
};

}  // namespace gatehouse::server

template <>
inline constexpr bool gatehouse::net::pooled_coroutines<gatehouse::server::UpstreamExchange> = true;
