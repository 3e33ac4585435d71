#include "server/exchange.hpp"

#include <boost/asio/ssl/error.hpp>
#include <cstring>

#include "balance/retry_policy.hpp"
#include "http/headers.hpp"
#include "proxy/rewrite.hpp"
#include "server/connection.hpp"
#include "server/forward.hpp"
#include "server/server.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

namespace asio = boost::asio;
using net::Clock;
using proxy::GatewayError;
using Status = http::BodyReader::Status;

namespace {
constexpr std::size_t kMaxResponseHead = 64 * 1024;
}  // namespace

UpstreamExchange::UpstreamExchange(Worker& w, Connection& conn, RequestContext& ctx,
                                   Forwarder& events)
    : w_(w),
      conn_(&conn),
      ctx_(ctx),
      events_(events),
      deadline_(std::make_shared<net::Deadline>(w.ctx.get_executor())) {}

bool UpstreamExchange::start_request_body(std::uint64_t max_body) {
  const auto& req = ctx_.req;
  sent_ = kept_ = held_ = false;
  kept_direct_ = {};
  ahead_decoded_ = 0;
  req_writer_.start(req.body == http::BodyKind::chunked  ? http::Framing::chunked
                    : req.body == http::BodyKind::length ? http::Framing::length
                                                         : http::Framing::none);
  return req_body_.start(req.body, req.content_length, max_body) != Status::too_large;
}

std::optional<GatewayError> UpstreamExchange::take_ahead_body() {
  body_out_.clear();
  if (ctx_.req.body != http::BodyKind::chunked) return std::nullopt;
  auto& in = conn_->input();
  std::size_t used = 0;
  const auto st = req_body_.feed(in.unused(), used, [&](std::string_view piece) {
    ahead_decoded_ += piece.size();
    req_writer_.piece(piece, body_out_);
  });
  ctx_.bytes_in += used;
  if (st == Status::done) req_writer_.finish(body_out_);
  in.used += used;
  return body_error(st);
}

net::Task<bool> UpstreamExchange::read_whole_body() {
  const auto& req = ctx_.req;
  if (req.body != http::BodyKind::length || req.content_length > balance::kMaxRetryBody ||
      sent_ || kept_)
    co_return true;
  auto& in = conn_->input();
  const auto size = static_cast<std::size_t>(req.content_length);
  if (in.unused().size() >= size) co_return true;  // all here: kept where it is
  // Into a buffer of its own: the read buffer must not move, the head's fields are views
  // into it. Exactly the body is read: what the client pipelined after it stays in the
  // socket.
  std::size_t have = in.len - in.used;
  body_copy_.assign(in.unused());
  body_copy_.resize(size);
  in.used = in.len;
  while (have < size) {
    auto [ec, n] = co_await conn_->read_body(body_copy_.data() + have, size - have);
    if (ec) co_return false;
    have += n;
  }
  std::size_t used = 0;
  req_body_.feed(body_copy_, used, [](std::string_view) {});
  ctx_.bytes_in += used;
  kept_ = true;
  kept_direct_ = body_copy_;
  co_return true;
}

bool UpstreamExchange::body_replayable() const {
  const auto& req = ctx_.req;
  if (req.body == http::BodyKind::none) return true;
  const std::uint64_t size = req.body == http::BodyKind::length ? req.content_length : ahead_decoded_;
  if (sent_ || kept_) return balance::body_replayable(true, kept_, size);
  // Not sent yet: it will be kept if it is all here now.
  const bool whole = req.body == http::BodyKind::length
                         ? conn_->input().unused().size() >= req.content_length
                         : req_body_.done();
  return balance::body_replayable(true, whole, size);
}

std::optional<GatewayError> UpstreamExchange::body_error(Status st) {
  if (st == Status::error) return proxy::errors::bad_chunked_body();
  if (st == Status::too_large) return proxy::errors::body_too_large(true);
  return std::nullopt;
}

void UpstreamExchange::ensure_relay() {
  if (relay_.empty()) w_.spare_relays.take(relay_, Worker::kRelayBuffer);
}

void UpstreamExchange::release_buffers() {
  w_.spare_relays.give(relay_, Worker::kRelayBuffer);
  w_.spare_heads.give(up_in_, Worker::kHeadBuffer);
  if (body_out_.capacity() > 4096) std::string().swap(body_out_);
  if (body_copy_.capacity() > 4096) std::string().swap(body_copy_);
  kept_direct_ = {};
}

void UpstreamExchange::trim() {
  // Not pooled: swapping with an empty string frees it.
  std::string().swap(body_out_);
  std::string().swap(body_copy_);
}

net::Task<std::optional<GatewayError>> UpstreamExchange::run(proxy::UpstreamConn& conn) {
  bool nothing_sent = false;
  upgraded_ = false;
  held_ = false;
  std::optional<GatewayError> sent;
  std::size_t done = 0;
  if (!send_now(conn, nothing_sent, sent, done)) sent = co_await send_request(conn, nothing_sent, done);
  if (!sent) {
    sent = co_await read_response_head(conn);
    if (!sent && res_.status == 101) {
      events_.on_response_head(res_);
      sent = co_await relay_switching_head();
      co_return sent;
    }
    if (!sent) {
      // The Forwarder may hold a failure status back to retry it elsewhere: then the
      // response is neither read further nor relayed, and the connection is dropped.
      if (!events_.on_response_head(res_)) {
        held_ = true;
        co_return std::nullopt;
      }
      sent = co_await relay_response(conn);
      events_.on_relay_end();
      co_return sent;
    }
  }
  // Sending the request again is harmless only without a body and when it is
  // idempotent or none of its bytes were written: a POST the upstream may have read is
  // never sent twice.
  const auto& req = ctx_.req;
  if (sent->retryable)
    sent->retryable = req.body == http::BodyKind::none &&
                      (http::is_idempotent(req.method) || nothing_sent);
  co_return sent;
}

bool UpstreamExchange::send_now(proxy::UpstreamConn& conn, bool& nothing_sent,
                                std::optional<GatewayError>& result, std::size_t& done) {
  done = 0;
  if (kept_) return false;  // a retry: send_request
  auto& in = conn_->input();
  const bool length = ctx_.req.body == http::BodyKind::length;
  // Only when the whole body is here (or none): what else would follow must wait.
  if (!req_body_.done() && !(length && in.unused().size() >= req_body_.direct_span())) return false;
  sent_ = true;
  const std::string_view direct = take_head_body();  // all of it: kept now
  const asio::const_buffer parts[] = {asio::buffer(head_out_), asio::buffer(direct),
                                      asio::buffer(body_out_)};
  net::error_code ec;
  if (!conn.stream().try_write(parts, done, ec)) return false;  // send_request writes the rest
  nothing_sent = done == 0;
  if (ec) result = upstream_write_failed();
  else result.reset();
  return true;
}

std::string_view UpstreamExchange::take_head_body() {
  std::string_view direct;
  std::size_t used = 0;
  auto& in = conn_->input();
  if (ctx_.req.body == http::BodyKind::length) {
    req_body_.feed(in.unused(), used, [&](std::string_view piece) { direct = piece; });
  }
  // Taken from the client's stream now, whatever the write does: the bytes belong to
  // this request, not to the next one.
  in.used += used;
  ctx_.bytes_in += used;
  // All of the body is here: kept (it stays in these buffers until the request ends).
  if (req_body_.done()) {
    kept_ = true;
    kept_direct_ = direct;
  }
  return direct;
}

GatewayError UpstreamExchange::upstream_write_failed() const {
  // A failed write to a reused connection may be its stale end: retryable.
  return proxy::errors::no_response(deadline_->fired(), true, ctx_.req.body != http::BodyKind::none);
}

net::Task<std::optional<GatewayError>> UpstreamExchange::send_request(proxy::UpstreamConn& conn,
                                                             bool& nothing_sent, std::size_t done) {
  // A body kept whole (read ahead by read_whole_body, or kept by the first try): the
  // same bytes on every try, from where they are kept.
  if (kept_) {
    sent_ = true;
    const asio::const_buffer parts[] = {asio::buffer(head_out_), asio::buffer(kept_direct_),
                                        asio::buffer(body_out_)};
    // The rest of send_now's write, or all of it again on a retry.
    auto [ec, n] = done > 0 ? co_await conn.stream().write_rest(parts, done)
                            : co_await conn.stream().write(parts);
    nothing_sent = done + n == 0;
    if (ec) co_return upstream_write_failed();
    co_return std::nullopt;
  }
  sent_ = true;

  // The head, with the body bytes that came with it.
  const std::string_view direct = take_head_body();
  {
    const asio::const_buffer parts[] = {asio::buffer(head_out_), asio::buffer(direct),
                                        asio::buffer(body_out_)};
    std::size_t n = 0;
    net::error_code ec;
    // Mostly the socket takes it all at once: no coroutine frame for the write.
    if (!conn.stream().try_write(parts, n, ec)) {
      auto [rec, more] = co_await conn.stream().write_rest(parts, n);
      ec = rec;
      n += more;
    }
    nothing_sent = n == 0;
    if (ec) co_return upstream_write_failed();
  }
  if (req_body_.done()) co_return std::nullopt;

  auto err = co_await stream_request_body(conn);
  co_return err;
}

net::Task<std::optional<GatewayError>> UpstreamExchange::read_response_head(proxy::UpstreamConn& conn) {
  const bool has_body = ctx_.req.body != http::BodyKind::none;
  const bool head_request = ctx_.req.method == "HEAD";
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
        // Switching protocols: only what a WebSocket handshake asked for.
        if (res_.status == 101) {
          if (!ctx_.websocket) co_return invalid;
          co_return std::nullopt;
        }
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
    if (deadline_->fired()) co_return proxy::errors::no_response(true, false, has_body);
    char* const into = up_in_.data() + up_len_;
    const std::size_t room = up_in_.size() - up_len_;
    auto& stream = conn.stream();
    net::error_code ec;
    std::size_t n = 0;
    // No coroutine frame for a plain read (net::Stream::read_now).
    if (stream.is_tls()) {
      std::tie(ec, n) = co_await stream.read_some(into, room);
    } else if (!stream.read_now(into, room, ec, n)) {
      std::tie(ec, n) = co_await stream.read_wait(into, room);
      stream.read_waited(ec, n, room);
    }
    if (ec) {
      if (deadline_->fired()) co_return proxy::errors::no_response(true, false, has_body);
      // Closed before any byte: the stale end of a reused connection, retryable.
      co_return proxy::errors::no_response(false, !received_any, has_body);
    }
    received_any = true;
    up_len_ += n;
  }
}

net::Task<std::optional<GatewayError>> UpstreamExchange::relay_switching_head() {
  proxy::build_switching_head(res_, ctx_.request_id, head_out_);
  ctx_.status = res_.status;
  ctx_.response_started = true;
  ctx_.close = true;  // what follows on this connection is the tunnel's
  upgraded_ = true;
  // Bytes the upstream sent after its head already belong to the tunnel.
  const std::string_view ahead(up_in_.data() + res_.head_size, up_len_ - res_.head_size);
  up_len_ = 0;
  const asio::const_buffer parts[] = {asio::buffer(head_out_), asio::buffer(ahead)};
  const auto ec = co_await conn_->write(parts);
  if (ec) {
    upgraded_ = false;
    co_return proxy::errors::client_gone();
  }
  co_return std::nullopt;
}

}  // namespace gatehouse::server
