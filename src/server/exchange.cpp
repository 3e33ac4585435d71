// One upstream exchange on one connection: send the request (head and body), read the
// response head, relay the response. It reports its progress (head, body complete) to
// the owner in forward.cpp, which records the outcome; it never records anything itself.
#include <boost/asio/ssl/error.hpp>

#include "http/headers.hpp"
#include "proxy/rewrite.hpp"
#include "server/server.hpp"
#include "server/session.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

namespace asio = boost::asio;
using net::Clock;
using proxy::GatewayError;
using Status = http::BodyReader::Status;

namespace {
constexpr std::size_t kMaxResponseHead = 64 * 1024;
}  // namespace

net::Task<std::optional<GatewayError>> Session::exchange(proxy::UpstreamConn& conn,
                                                         health::EndpointState& state) {
  bool nothing_sent = false;
  auto sent = co_await send_request(conn, nothing_sent);
  if (!sent) {
    sent = co_await read_response_head(conn);
    if (!sent) {
      on_response_head(state);
      sent = co_await relay_response(conn);
      finish_capture(state, false);  // stored already when the body completed
      co_return sent;
    }
  }
  // Sending the request again is harmless only without a body and when it is
  // idempotent or none of its bytes were written: a POST the upstream may have read is
  // never sent twice.
  if (sent->retryable)
    sent->retryable = req_.body == http::BodyKind::none &&
                      (http::is_idempotent(req_.method) || nothing_sent);
  co_return sent;
}

net::Task<std::optional<GatewayError>> Session::send_request(proxy::UpstreamConn& conn,
                                                             bool& nothing_sent) {
  const config::Limits limits = current_limits();
  const bool has_body = req_.body != http::BodyKind::none;
  auto upstream_failed = [&] {
    // A failed write to a reused connection may be its stale end: retryable.
    return proxy::errors::no_response(upstream_deadline_->fired(), true, has_body);
  };

  // The head, with the body bytes that came with it: a length body's as they are, a
  // chunked body's decoded and re-encoded already (take_ahead_body).
  std::string_view direct;
  std::size_t used = 0;
  if (req_.body == http::BodyKind::length) {
    req_body_.feed(std::string_view(in_.data() + in_used_, in_len_ - in_used_), used,
                   [&](std::string_view piece) { direct = piece; });
  }
  {
    const asio::const_buffer parts[] = {asio::buffer(head_out_), asio::buffer(direct),
                                        asio::buffer(body_out_)};
    auto [ec, n] = co_await conn.write(parts);
    nothing_sent = n == 0;
    if (ec) co_return upstream_failed();
  }
  in_used_ += used;
  ex_.bytes_in += used;
  if (req_body_.done()) co_return std::nullopt;

  ensure_relay();
  while (!req_body_.done()) {
    client_deadline_->arm(Clock::now() + limits.idle_timeout, &socket_);
    auto [rec, n] = co_await read_client(relay_.data(), req_body_.next_read(relay_.size()));
    client_deadline_->disarm();
    if (rec) co_return proxy::errors::client_gone();
    direct = {};
    body_out_.clear();
    const bool identity = req_writer_.identity();
    std::size_t took = 0;
    const auto st = req_body_.feed(std::string_view(relay_.data(), n), took,
                                   [&](std::string_view piece) {
                                     if (identity) direct = piece;
                                     else req_writer_.piece(piece, body_out_);
                                   });
    ex_.bytes_in += took;
    if (st == Status::done) req_writer_.finish(body_out_);
    if (auto err = body_error(st)) co_return err;
    if (took < n) {
      // Pipelined bytes after the body: keep them for the next request.
      const std::size_t extra = n - took;
      if (in_len_ + extra > in_.size()) in_.resize(in_len_ + extra);
      std::memcpy(in_.data() + in_len_, relay_.data() + took, extra);
      in_used_ = in_len_;
      in_len_ += extra;
    }
    if (upstream_deadline_->fired()) co_return proxy::errors::no_response(true, false, true);
    if (direct.empty() && body_out_.empty()) continue;
    const asio::const_buffer parts[] = {asio::buffer(direct), asio::buffer(body_out_)};
    auto [ec, sent] = co_await conn.write(parts);
    if (ec) co_return proxy::errors::no_response(upstream_deadline_->fired(), false, true);
  }
  co_return std::nullopt;
}

net::Task<std::optional<GatewayError>> Session::read_response_head(proxy::UpstreamConn& conn) {
  const bool has_body = req_.body != http::BodyKind::none;
  const bool head_request = req_.method == "HEAD";
  if (up_in_.empty()) w_.spare_heads.take(up_in_, Worker::kHeadBuffer);
  up_len_ = 0;
  bool received_any = false;
  const auto invalid = proxy::errors::no_response(false, false, has_body);
  for (;;) {
    if (up_len_ > 0) {
      const auto st = http::parse_response(std::string_view(up_in_.data(), up_len_),
                                           kMaxResponseHead, head_request, res_);
      if (st == http::ParseStatus::error) co_return invalid;
      if (st == http::ParseStatus::done) {
        if (res_.status == 101) co_return invalid;  // we never asked to upgrade
        if (res_.status < 200) {
          // Interim response: drop it and read the final one.
          std::memmove(up_in_.data(), up_in_.data() + res_.head_size, up_len_ - res_.head_size);
          up_len_ -= res_.head_size;
          continue;
        }
        co_return std::nullopt;
      }
    }
    if (up_len_ == up_in_.size()) {
      if (up_in_.size() >= kMaxResponseHead) co_return invalid;
      up_in_.resize(up_in_.size() * 2);
    }
    if (upstream_deadline_->fired()) co_return proxy::errors::no_response(true, false, has_body);
    auto [ec, n] = co_await conn.read_some(up_in_.data() + up_len_, up_in_.size() - up_len_);
    if (ec) {
      if (upstream_deadline_->fired()) co_return proxy::errors::no_response(true, false, has_body);
      // Closed before any byte: the stale end of a reused connection, retryable.
      co_return proxy::errors::no_response(false, !received_any, has_body);
    }
    received_any = true;
    up_len_ += n;
  }
}

net::Task<std::optional<GatewayError>> Session::relay_response(proxy::UpstreamConn& conn) {
  // Framing towards the client: what the upstream sent, except that a body of unknown
  // length is chunked for HTTP/1.1 clients (HTTP/1.0 ones read it until the close).
  http::Framing framing = http::Framing::none;
  bool close_after = ex_.close || w_.server.draining();
  switch (res_.body) {
    case http::BodyKind::none: framing = http::Framing::none; break;
    case http::BodyKind::length: framing = http::Framing::length; break;
    case http::BodyKind::chunked:
    case http::BodyKind::until_close:
      if (req_.minor == 1) {
        framing = http::Framing::chunked;
      } else {
        framing = http::Framing::until_close;
        close_after = true;
      }
      break;
  }
  // A request body we did not finish reading (the upstream answered early) leaves the
  // connection out of sync.
  if (!req_body_.done()) close_after = true;
  if (close_after) ex_.close = true;
  proxy::build_client_head(res_, framing, request_id_, close_after,
                           !close_after && req_.minor == 0, head_out_,
                           ex_.rate_limit_headers.view());
  ex_.status = res_.status;
  ex_.response_started = true;
  res_writer_.start(framing);
  // Length and until-close bodies pass through as they are; the others are re-framed.
  const bool identity = res_writer_.identity() && res_.body != http::BodyKind::chunked;

  std::string_view direct[2];
  std::size_t pieces = 0;
  std::size_t used = 0;
  auto feed = [&](std::string_view data) {
    const auto st = res_body_.feed(data, used, [&](std::string_view piece) {
      capture(piece);
      if (identity) direct[pieces++] = piece;
      else res_writer_.piece(piece, body_out_);
    });
    if (st == Status::done) {
      on_body_complete();
      res_writer_.finish(body_out_);
    }
    return st;
  };

  // The body bytes that came with the head, and (a larger body of known length) what
  // the upstream has already sent along: one write with the head.
  body_out_.clear();
  Status st = res_body_.start(res_.body, res_.content_length);
  std::string_view ahead(up_in_.data() + res_.head_size, up_len_ - res_.head_size);
  up_len_ = 0;
  if (st == Status::done) {
    on_body_complete();
  } else {
    st = feed(ahead);
    ahead.remove_prefix(used);
  }
  if (st == Status::more && res_.body == http::BodyKind::length) {
    ensure_relay();
    const std::size_t more = conn.try_read(relay_.data(), res_body_.next_read(relay_.size()));
    if (more > 0) st = feed(std::string_view(relay_.data(), more));
  }
  if (st == Status::done) up_len_ = ahead.size();  // bytes after the body: never reused
  {
    const asio::const_buffer parts[] = {asio::buffer(head_out_), asio::buffer(direct[0]),
                                        asio::buffer(direct[1]), asio::buffer(body_out_)};
    const auto ec = co_await write_client(parts);
    if (ec) co_return proxy::errors::client_gone();
  }
  if (st == Status::error) co_return proxy::errors::broken_response();

  ensure_relay();
  while (!res_body_.done()) {
    if (upstream_deadline_->fired()) co_return proxy::errors::broken_response();
    auto [rec, n] = co_await conn.read_some(relay_.data(), res_body_.next_read(relay_.size()));
    pieces = 0;
    body_out_.clear();
    if (rec == asio::error::eof || (rec == asio::ssl::error::stream_truncated && n == 0)) {
      if (res_body_.end_of_input() != Status::done) co_return proxy::errors::broken_response();
      res_.keep_alive = false;
      on_body_complete();
      res_writer_.finish(body_out_);
      st = Status::done;
    } else if (rec) {
      co_return proxy::errors::broken_response();
    } else {
      st = feed(std::string_view(relay_.data(), n));
      if (st == Status::done) up_len_ = n - used;  // bytes after the body: never reused
    }
    if (pieces > 0 || !body_out_.empty()) {
      const asio::const_buffer parts[] = {asio::buffer(direct[0]), asio::buffer(body_out_)};
      const auto ec = co_await write_client(parts);
      if (ec) co_return proxy::errors::client_gone();
    }
    if (st == Status::error) co_return proxy::errors::broken_response();
  }
  co_return std::nullopt;
}

}  // namespace gatehouse::server
