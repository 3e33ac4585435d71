// The body relays of an UpstreamExchange: the request body towards the upstream as it
// arrives, and the response back to the client. Body bytes pass either through the relay
// buffer (decoded and re-framed where the framing changes) or, between two plain
// connections, straight from socket to socket through a pipe (net/splice.hpp): the rest
// of a Content-Length body, or a chunk's data between the chunk lines, which are still
// read and written here.
#include <boost/asio/ssl/error.hpp>
#include <charconv>
#include <cstring>

#include "proxy/rewrite.hpp"
#include "server/connection.hpp"
#include "server/exchange.hpp"
#include "server/forward.hpp"
#include "server/server.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

namespace asio = boost::asio;
using proxy::GatewayError;
using Status = http::BodyReader::Status;

namespace {
// Below this a span is relayed through the buffer: up to about one relay buffer (64 KiB)
// a read and a write cost less than the two splices, the pipe's page references and the
// head written apart. Measured on loopback (CPU per request, gatehouse alone, 64
// connections): bodies of 24-48 KiB cost 3-7 us more spliced, 56 KiB and up 5-8 us less.
constexpr std::uint64_t kSpliceMin = 48 * 1024;
// After a spliced chunk the next read only needs its CRLF and the next chunk line: a
// short read leaves the next chunk's data in the socket for the next splice.
constexpr std::size_t kChunkLineRead = 256;

void append_chunk_size(std::uint64_t size, std::string& out) {
  char hex[20];
  auto [end, ec] = std::to_chars(hex, hex + sizeof hex, size, 16);
  out.append(hex, end);
  out.append("\r\n");
}
}  // namespace

bool UpstreamExchange::can_splice(proxy::UpstreamConn& conn) const {
  return !conn_->is_tls() && !conn.stream().is_tls();
}

net::Task<net::SpliceResult> UpstreamExchange::splice_span(net::SplicePipe& pipe,
                                                           proxy::UpstreamConn& conn, bool upload,
                                                           std::uint64_t span) {
  // The client's end waits within idle_timeout each time (as read_body and write do);
  // the upstream's runs under the exchange deadline, already armed on its socket.
  const net::SpliceEnd client{conn_->stream().socket(), &conn_->client_deadline(),
                              conn_->limits().idle_timeout};
  const net::SpliceEnd upstream{conn.socket(), deadline_.get(), {}};
  if (upload) {
    auto r = co_await pipe.relay(client, upstream, span);
    co_return r;
  }
  auto r = co_await pipe.relay(upstream, client, span);
  co_return r;
}

net::Task<std::optional<GatewayError>> UpstreamExchange::stream_request_body(
    proxy::UpstreamConn& conn) {
  auto& in = conn_->input();
  auto& pipes = net::PipePool::this_thread();
  bool splice = can_splice(conn);
  std::size_t read_size = Worker::kRelayBuffer;
  body_out_.clear();  // went with the head
  ensure_relay();
  while (!req_body_.done()) {
    const std::uint64_t span = splice ? req_body_.direct_span() : 0;
    if (span >= kSpliceMin) {
      net::SplicePipe pipe = pipes.take();
      if (!pipe) {
        splice = false;  // none to lend: the buffer for the rest of this body
        continue;
      }
      // The framing before the span (a spliced chunk's CRLF, this chunk's line) goes
      // first; then the span itself, as it is.
      if (!req_writer_.identity()) append_chunk_size(span, body_out_);
      if (!body_out_.empty()) {
        const asio::const_buffer part = asio::buffer(body_out_);
        auto [ec, sent] = co_await conn.stream().write(std::span(&part, 1));
        if (ec) co_return proxy::errors::no_response(deadline_->fired(), false, true);
        body_out_.clear();
      }
      auto r = co_await splice_span(pipe, conn, /*upload=*/true, span);
      pipes.give(std::move(pipe));
      ctx_.bytes_in += r.taken;
      if (r.ec) {
        if (r.source_failed) co_return proxy::errors::client_gone();
        co_return proxy::errors::no_response(deadline_->fired(), false, true);
      }
      if (req_body_.skip(span) == Status::done) req_writer_.finish(body_out_);
      if (!req_writer_.identity()) body_out_.append("\r\n");  // ends the chunk
      read_size = kChunkLineRead;
      continue;
    }
    auto [rec, n] = co_await conn_->read_body(relay_.data(), req_body_.next_read(read_size));
    if (rec) co_return proxy::errors::client_gone();
    read_size = Worker::kRelayBuffer;
    std::string_view direct;
    const bool identity = req_writer_.identity();
    std::size_t took = 0;
    const auto st = req_body_.feed(std::string_view(relay_.data(), n), took,
                                   [&](std::string_view piece) {
                                     if (identity) direct = piece;
                                     else req_writer_.piece(piece, body_out_);
                                   });
    ctx_.bytes_in += took;
    if (st == Status::done) req_writer_.finish(body_out_);
    if (auto err = body_error(st)) co_return err;
    if (took < n) {
      // Pipelined bytes after the body: keep them for the next request.
      const std::size_t extra = n - took;
      if (in.len + extra > in.data.size()) in.data.resize(in.len + extra);
      std::memcpy(in.data.data() + in.len, relay_.data() + took, extra);
      in.used = in.len;
      in.len += extra;
    }
    if (deadline_->fired()) co_return proxy::errors::no_response(true, false, true);
    // A chunk line alone waits for its data, to go out with it or before its splice.
    if (direct.empty() && (body_out_.empty() || (splice && req_body_.direct_span() >= kSpliceMin)))
      continue;
    const asio::const_buffer parts[] = {asio::buffer(direct), asio::buffer(body_out_)};
    auto [ec, sent] = co_await conn.stream().write(parts);
    if (ec) co_return proxy::errors::no_response(deadline_->fired(), false, true);
    body_out_.clear();
  }
  // A spliced last span's framing (a length body has none; a chunked one ends with its
  // last chunk, read through the buffer).
  if (!body_out_.empty()) {
    const asio::const_buffer part = asio::buffer(body_out_);
    auto [ec, sent] = co_await conn.stream().write(std::span(&part, 1));
    if (ec) co_return proxy::errors::no_response(deadline_->fired(), false, true);
    body_out_.clear();
  }
  co_return std::nullopt;
}

net::Task<std::optional<GatewayError>> UpstreamExchange::relay_response(proxy::UpstreamConn& conn) {
  // Framing towards the client: what the upstream sent, except that a body of unknown
  // length is chunked for HTTP/1.1 clients (HTTP/1.0 ones read it until the close).
  http::Framing framing = http::Framing::none;
  bool close_after = ctx_.close || w_.server.draining();
  switch (res_.body) {
    case http::BodyKind::none: framing = http::Framing::none; break;
    case http::BodyKind::length: framing = http::Framing::length; break;
    case http::BodyKind::chunked:
    case http::BodyKind::until_close:
      if (ctx_.req.minor == 1) {
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
  if (close_after) ctx_.close = true;
  proxy::build_client_head(res_, framing, ctx_.request_id, close_after,
                           !close_after && ctx_.req.minor == 0, head_out_,
                           ctx_.rate_limit_headers.view());
  ctx_.status = res_.status;
  ctx_.response_started = true;
  res_writer_.start(framing);
  // Length and until-close bodies pass through as they are; the others are re-framed.
  const bool identity = res_writer_.identity() && res_.body != http::BodyKind::chunked;
  // The `cached` fallback's copy needs every byte in hand.
  bool splice = can_splice(conn) && !events_.observes_body();

  std::string_view direct[2];
  std::size_t pieces = 0;
  std::size_t used = 0;
  auto feed = [&](std::string_view data) {
    const auto st = res_body_.feed(data, used, [&](std::string_view piece) {
      events_.on_body_piece(piece);
      if (identity) direct[pieces++] = piece;
      else res_writer_.piece(piece, body_out_);
    });
    if (st == Status::done) {
      events_.on_body_complete();
      res_writer_.finish(body_out_);
    }
    return st;
  };

  // The body bytes that came with the head, and (a larger body of known length) what
  // the upstream has already sent along: one write with the head. A body spliced next
  // leaves its rest in the socket.
  body_out_.clear();
  Status st = res_body_.start(res_.body, res_.content_length);
  std::string_view ahead(up_in_.data() + res_.head_size, up_len_ - res_.head_size);
  up_len_ = 0;
  if (st == Status::done) {
    events_.on_body_complete();
  } else {
    st = feed(ahead);
    ahead.remove_prefix(used);
  }
  if (st == Status::more && res_.body == http::BodyKind::length &&
      !(splice && res_body_.direct_span() >= kSpliceMin)) {
    ensure_relay();
    const std::size_t more = conn.stream().try_read(relay_.data(), res_body_.next_read(relay_.size()));
    if (more > 0) st = feed(std::string_view(relay_.data(), more));
  }
  if (st == Status::done) up_len_ = ahead.size();  // bytes after the body: never reused
  // The whole answer in this write, and the connection's last: over TLS it leaves with
  // the close_notify (net::Stream::last_write_next).
  if (close_after && st == Status::done) conn_->stream().last_write_next();
  {
    const asio::const_buffer parts[] = {asio::buffer(head_out_), asio::buffer(direct[0]),
                                        asio::buffer(direct[1]), asio::buffer(body_out_)};
    net::error_code ec;
    std::size_t done = 0;
    if (!conn_->write_now(parts, ec, done)) ec = co_await conn_->write_rest(parts, done);
    if (ec) co_return proxy::errors::client_gone();
    body_out_.clear();
  }
  if (st == Status::error) co_return proxy::errors::broken_response();

  auto& pipes = net::PipePool::this_thread();
  std::size_t read_size = Worker::kRelayBuffer;
  ensure_relay();
  while (!res_body_.done()) {
    if (deadline_->fired()) co_return proxy::errors::broken_response();
    const std::uint64_t span = splice ? res_body_.direct_span() : 0;
    if (span >= kSpliceMin) {
      net::SplicePipe pipe = pipes.take();
      if (!pipe) {
        splice = false;  // none to lend: the buffer for the rest of this body
        continue;
      }
      if (framing == http::Framing::chunked) append_chunk_size(span, body_out_);
      if (!body_out_.empty()) {
        const auto ec = co_await conn_->write(body_out_);
        if (ec) co_return proxy::errors::client_gone();
        body_out_.clear();
      }
      auto r = co_await splice_span(pipe, conn, /*upload=*/false, span);
      pipes.give(std::move(pipe));
      ctx_.bytes_out += r.delivered;
      if (r.ec) {
        if (r.source_failed) co_return proxy::errors::broken_response();
        co_return proxy::errors::client_gone();
      }
      if (res_body_.skip(span) == Status::done) {
        events_.on_body_complete();
        res_writer_.finish(body_out_);
      }
      if (framing == http::Framing::chunked) body_out_.append("\r\n");  // ends the chunk
      read_size = kChunkLineRead;
      continue;
    }
    const std::size_t want = res_body_.next_read(read_size);
    auto& stream = conn.stream();
    net::error_code rec;
    std::size_t n = 0;
    // No coroutine frame for a plain read (net::Stream::read_now).
    if (stream.is_tls()) {
      std::tie(rec, n) = co_await stream.read_some(relay_.data(), want);
    } else if (!stream.read_now(relay_.data(), want, rec, n)) {
      std::tie(rec, n) = co_await stream.read_wait(relay_.data(), want);
      stream.read_waited(rec, n, want);
    }
    read_size = Worker::kRelayBuffer;
    pieces = 0;
    if (rec == asio::error::eof || (rec == asio::ssl::error::stream_truncated && n == 0)) {
      if (res_body_.end_of_input() != Status::done) co_return proxy::errors::broken_response();
      res_.keep_alive = false;
      events_.on_body_complete();
      res_writer_.finish(body_out_);
      st = Status::done;
    } else if (rec) {
      co_return proxy::errors::broken_response();
    } else {
      st = feed(std::string_view(relay_.data(), n));
      if (st == Status::done) up_len_ = n - used;  // bytes after the body: never reused
    }
    // A chunk line alone waits for its data, to go out with it or before its splice.
    const bool line_only = pieces == 0 && splice && res_body_.direct_span() >= kSpliceMin;
    if ((pieces > 0 || !body_out_.empty()) && !line_only) {
      const asio::const_buffer parts[] = {asio::buffer(direct[0]), asio::buffer(body_out_)};
      net::error_code ec;
      std::size_t done = 0;
      if (!conn_->write_now(parts, ec, done)) ec = co_await conn_->write_rest(parts, done);
      if (ec) co_return proxy::errors::client_gone();
      body_out_.clear();
    }
    if (st == Status::error) co_return proxy::errors::broken_response();
  }
  // A spliced last span's framing (none for a length body; a chunked one ends with its
  // last chunk, read through the buffer).
  if (!body_out_.empty()) {
    const auto ec = co_await conn_->write(body_out_);
    if (ec) co_return proxy::errors::client_gone();
    body_out_.clear();
  }
  co_return std::nullopt;
}

}  // namespace gatehouse::server
