// The forward phase of a session: upstream connection, request, response, pool return.
#include <boost/asio/write.hpp>
#include <charconv>

#include "health/cache_rules.hpp"
#include "http/headers.hpp"
#include "logging/log.hpp"
#include "proxy/rewrite.hpp"
#include "server/server.hpp"
#include "server/session.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

namespace asio = boost::asio;
using net::Clock;

namespace {

constexpr std::size_t kMaxResponseHead = 64 * 1024;

void append_chunk(std::string& out, std::string_view data) {
  char hex[20];
  auto [end, ec] = std::to_chars(hex, hex + sizeof hex, data.size(), 16);
  out.append(hex, end);
  out.append("\r\n");
  out.append(data);
  out.append("\r\n");
}

}  // namespace

net::Task<void> Session::forward(const registry::EndpointRuntime& ep,
                                 std::string_view matched_prefix) {
  const auto& cfg = *ep.config;
  proxy::upstream_path(cfg.url.base_path, matched_prefix, path_, cfg.strip_prefix, up_path_);
  proxy::ForwardInfo info;
  info.path = up_path_;
  info.host = cfg.preserve_host && !req_.host.empty() ? req_.host : std::string_view(ep.host_header);
  info.client_ip = client_ip_;
  info.prefix = matched_prefix;
  info.request_id = request_id_;
  proxy::build_upstream_head(req_, info, head_out_);

  if (req_.body == http::BodyKind::chunked) {
    const auto prepared = prepare_chunked(cfg);
    if (prepared == SendResult::bad_body) {
      ex_.close = true;
      co_await send_error(ErrorCode::bad_request, "malformed chunked body", cfg.id);
      co_return;
    }
    if (prepared == SendResult::too_large) {
      ex_.close = true;
      co_await send_error(ErrorCode::payload_too_large, "request body exceeds the limit", cfg.id);
      co_return;
    }
  }

  // Breaker phase: while open, the upstream sees nothing and the fallback answers.
  health::EndpointState& state = *ep.state;
  const health::Admission admission = state.admit();
  if (!admission.admitted()) {
    state.record_fallback();
    co_await send_fallback(ep, admission);
    co_return;
  }

  admission_ = admission;
  recorded_ = false;
  upstream_started_ = Clock::now();
  if (req_.expect_continue && req_.body != http::BodyKind::none && req_.minor == 1) {
    const auto ec = co_await write_client(std::string_view("HTTP/1.1 100 Continue\r\n\r\n"));
    if (ec) {
      ex_.close = true;
      record_outcome(health::Outcome::aborted);
      co_return;
    }
  }
  record_outcome(co_await exchange(ep));  // no-op when exchange() recorded already
}

void Session::record_outcome(health::Outcome outcome) {
  if (recorded_ || !ex_.state) return;
  recorded_ = true;
  const auto now = Clock::now();
  const auto took = now - upstream_started_;
  // Aborted: the client went away before the upstream had its say; no upstream timing.
  if (outcome != health::Outcome::aborted)
    ex_.upstream_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
  ex_.state->record(admission_, outcome, took, now);
}

net::Task<health::Outcome> Session::exchange(const registry::EndpointRuntime& ep) {
  const auto& cfg = *ep.config;
  health::EndpointState& state = *ep.state;
  const auto exchange_deadline = Clock::now() + cfg.timeout;
  const bool head_request = req_.method == "HEAD";
  std::unique_ptr<proxy::UpstreamConn> conn;
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    if (attempt == 0) conn = w_.pool.acquire(ep.pool_key);
    if (conn) {
      reused = true;
    } else {
      const auto connect_deadline = std::min(exchange_deadline, Clock::now() + cfg.connect_timeout);
      auto [cerr, fresh] = co_await w_.pool.connect(ep, connect_deadline);
      if (cerr != net::ConnectError::none) {
        logging::debug("upstream connect failed",
                       {{"endpoint", std::string_view(cfg.id)},
                        {"request_id", std::string_view(request_id_)},
                        {"reason", net::to_string(cerr)}});
        // Recorded before the client hears of it, so its next request already sees the
        // breaker's verdict.
        record_outcome(health::Outcome::failure);
        if (cerr == net::ConnectError::timeout)
          co_await send_error(ErrorCode::upstream_timeout, "upstream connect timed out", cfg.id);
        else
          co_await send_error(ErrorCode::upstream_error, "upstream connection failed", cfg.id);
        co_return health::Outcome::failure;
      }
      conn = std::move(fresh);
    }
    upstream_deadline_->arm(exchange_deadline, &conn->socket());

    const auto sent = co_await send_request(*conn, cfg);
    if (sent == SendResult::client_failed) {
      upstream_deadline_->disarm();
      ex_.close = true;
      ex_.status = 499;  // client went away mid-body
      co_return health::Outcome::aborted;
    }
    if (sent == SendResult::too_large || sent == SendResult::bad_body) {
      // The upstream got an incomplete request; its connection is dropped unfinished.
      upstream_deadline_->disarm();
      conn.reset();
      ex_.close = true;
      if (sent == SendResult::too_large)
        co_await send_error(ErrorCode::payload_too_large, "request body exceeds the limit", cfg.id);
      else
        co_await send_error(ErrorCode::bad_request, "malformed chunked body", cfg.id);
      co_return health::Outcome::aborted;  // the client's fault, not the upstream's
    }
    HeadResult head = HeadResult::failed;
    if (sent == SendResult::ok) {
      head = co_await read_response_head(*conn, head_request);
    } else if (sent == SendResult::timeout) {
      head = HeadResult::timeout;
    }
    if (head == HeadResult::ok) break;
    upstream_deadline_->disarm();
    // The stale keep-alive retry (SPEC 13): a reused connection that the upstream had
    // closed before answering gets one fresh try, but only when sending the request
    // twice is harmless: an idempotent method, or none of its bytes were written. A
    // POST the upstream may have read is never sent again.
    const bool can_retry = reused && attempt == 0 && req_.body == http::BodyKind::none &&
                           (head == HeadResult::empty || sent == SendResult::upstream_failed) &&
                           (http::is_idempotent(req_.method) || nothing_sent_);
    conn.reset();  // a broken connection is never reused
    if (can_retry) continue;
    record_outcome(health::Outcome::failure);
    if (head == HeadResult::timeout) {
      co_await send_error(ErrorCode::upstream_timeout, "upstream did not answer in time", cfg.id);
    } else {
      co_await send_error(ErrorCode::upstream_error, "invalid or no response from upstream",
                          cfg.id);
    }
    // The request body may be partly unread: do not trust the connection.
    if (req_.body != http::BodyKind::none) ex_.close = true;
    co_return health::Outcome::failure;
  }

  ex_.upstream_status = res_.status;
  if (state.is_failure_status(res_.status)) record_outcome(health::Outcome::failure);
  start_capture(state);
  const auto relayed = co_await relay_response(*conn);
  finish_capture(state, false);  // stored already when the body completed
  upstream_deadline_->disarm();
  if (relayed == RelayResult::ok && res_.keep_alive && up_len_ == 0 &&
      !upstream_deadline_->fired()) {
    w_.pool.release(std::move(conn));
  } else {
    conn.reset();
    if (relayed != RelayResult::ok) ex_.close = true;
  }
  if (relayed == RelayResult::upstream_failed) co_return health::Outcome::failure;
  co_return state.is_failure_status(res_.status) ? health::Outcome::failure
                                                 : health::Outcome::success;
}

net::Task<Session::SendResult> Session::send_request(proxy::UpstreamConn& conn,
                                                     const config::Endpoint& ep) {
  const config::Limits limits = current_limits();
  // Body bytes that arrived with the head.
  std::string_view ahead(in_.data() + in_used_, in_len_ - in_used_);

  if (req_.body == http::BodyKind::none) {
    const asio::const_buffer b = asio::buffer(head_out_);
    const auto [ec, n] = co_await conn.write(std::span<const asio::const_buffer>(&b, 1));
    nothing_sent_ = n == 0;
    if (ec) co_return upstream_deadline_->fired() ? SendResult::timeout : SendResult::upstream_failed;
    co_return SendResult::ok;
  }

  if (req_.body == http::BodyKind::length) {
    std::uint64_t remaining = req_.content_length;
    const std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(ahead.size(), remaining));
    const asio::const_buffer parts[] = {asio::buffer(head_out_), asio::buffer(ahead.data(), first)};
    auto [ec, sent] = co_await conn.write(parts);
    nothing_sent_ = sent == 0;
    if (ec) co_return upstream_deadline_->fired() ? SendResult::timeout : SendResult::upstream_failed;
    in_used_ += first;
    ex_.bytes_in += first;
    remaining -= first;
    if (remaining == 0) co_return SendResult::ok;
    ensure_relay();
    while (remaining > 0) {
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(relay_.size(), remaining));
      client_deadline_->arm(Clock::now() + limits.idle_timeout, &socket_);
      auto [rec, n] = co_await read_client(relay_.data(), want);
      client_deadline_->disarm();
      if (rec) co_return SendResult::client_failed;
      ex_.bytes_in += n;
      remaining -= n;
      if (upstream_deadline_->fired()) co_return SendResult::timeout;
      const asio::const_buffer b = asio::buffer(relay_.data(), n);
      std::tie(ec, sent) = co_await conn.write(std::span<const asio::const_buffer>(&b, 1));
      if (ec) co_return upstream_deadline_->fired() ? SendResult::timeout : SendResult::upstream_failed;
    }
    co_return SendResult::ok;
  }

  // Chunked: the bytes that came with the head were decoded by prepare_chunked(); the
  // rest is decoded strictly as it arrives and re-encoded (extensions and trailers are
  // dropped), with the body limit enforced as it grows.
  {
    const asio::const_buffer parts[] = {asio::buffer(head_out_), asio::buffer(chunk_out_)};
    const auto [ec, sent] = co_await conn.write(parts);
    nothing_sent_ = sent == 0;
    if (ec) co_return upstream_deadline_->fired() ? SendResult::timeout : SendResult::upstream_failed;
  }
  ensure_relay();
  while (!body_done_) {
    client_deadline_->arm(Clock::now() + limits.idle_timeout, &socket_);
    auto [rec, n] = co_await read_client(relay_.data(), relay_.size());
    client_deadline_->disarm();
    if (rec) co_return SendResult::client_failed;
    std::size_t used = 0;
    const auto r = decode_chunks(std::string_view(relay_.data(), n), used, ep);
    ex_.bytes_in += used;
    if (r != SendResult::ok) co_return r;
    if (used < n) {
      // Pipelined bytes after the body: keep them for the next request.
      const std::size_t extra = n - used;
      if (in_len_ + extra > in_.size()) in_.resize(in_len_ + extra);
      std::memcpy(in_.data() + in_len_, relay_.data() + used, extra);
      in_used_ = in_len_;
      in_len_ += extra;
    }
    if (upstream_deadline_->fired()) co_return SendResult::timeout;
    if (chunk_out_.empty()) continue;
    const asio::const_buffer b = asio::buffer(chunk_out_);
    const auto [ec, sent] = co_await conn.write(std::span<const asio::const_buffer>(&b, 1));
    if (ec) co_return upstream_deadline_->fired() ? SendResult::timeout : SendResult::upstream_failed;
  }
  co_return SendResult::ok;
}

Session::SendResult Session::decode_chunks(std::string_view data, std::size_t& used,
                                           const config::Endpoint& ep) {
  chunk_out_.clear();
  used = 0;
  const auto r = decoder_.decode(data, used, [&](std::string_view piece) {
    append_chunk(chunk_out_, piece);
  });
  if (r == http::ChunkedDecoder::Result::error) return SendResult::bad_body;
  if (decoder_.body_bytes() > ep.max_body) return SendResult::too_large;
  if (r == http::ChunkedDecoder::Result::done) {
    body_done_ = true;
    chunk_out_.append("0\r\n\r\n");
  }
  return SendResult::ok;
}

Session::SendResult Session::prepare_chunked(const config::Endpoint& ep) {
  decoder_.reset();
  body_done_ = false;
  std::size_t used = 0;
  const auto r = decode_chunks(std::string_view(in_.data() + in_used_, in_len_ - in_used_), used, ep);
  in_used_ += used;
  ex_.bytes_in += used;
  return r;
}

net::Task<Session::HeadResult> Session::read_response_head(proxy::UpstreamConn& conn,
                                                           bool head_request) {
  if (up_in_.empty()) w_.spare_heads.take(up_in_, Worker::kHeadBuffer);
  up_len_ = 0;
  bool received_any = false;
  for (;;) {
    if (up_len_ > 0) {
      const auto st = http::parse_response(std::string_view(up_in_.data(), up_len_),
                                           kMaxResponseHead, head_request, res_);
      if (st == http::ParseStatus::error) co_return HeadResult::failed;
      if (st == http::ParseStatus::done) {
        if (res_.status == 101) co_return HeadResult::failed;  // we never asked to upgrade
        if (res_.status < 200) {
          // Interim response: drop it and read the final one.
          std::memmove(up_in_.data(), up_in_.data() + res_.head_size, up_len_ - res_.head_size);
          up_len_ -= res_.head_size;
          continue;
        }
        co_return HeadResult::ok;
      }
    }
    if (up_len_ == up_in_.size()) {
      if (up_in_.size() >= kMaxResponseHead) co_return HeadResult::failed;
      up_in_.resize(up_in_.size() * 2);
    }
    if (upstream_deadline_->fired()) co_return HeadResult::timeout;
    auto [ec, n] = co_await conn.read_some(up_in_.data() + up_len_, up_in_.size() - up_len_);
    if (ec) {
      if (upstream_deadline_->fired()) co_return HeadResult::timeout;
      co_return received_any ? HeadResult::failed : HeadResult::empty;
    }
    received_any = true;
    up_len_ += n;
  }
}

net::Task<Session::RelayResult> Session::relay_response(proxy::UpstreamConn& conn) {
  // Framing towards the client.
  proxy::ClientFraming framing = proxy::ClientFraming::none;
  bool close_after = ex_.close || w_.server.draining();
  switch (res_.body) {
    case http::BodyKind::none: framing = proxy::ClientFraming::none; break;
    case http::BodyKind::length: framing = proxy::ClientFraming::length; break;
    case http::BodyKind::chunked:
    case http::BodyKind::until_close:
      if (req_.minor == 1) {
        framing = proxy::ClientFraming::chunked;
      } else {
        framing = proxy::ClientFraming::until_close;
        close_after = true;
      }
      break;
  }
  // A request body we did not finish reading (the upstream answered early) leaves the
  // connection out of sync.
  if (req_.body == http::BodyKind::length && ex_.bytes_in < req_.head_size + req_.content_length)
    close_after = true;
  if (req_.body == http::BodyKind::chunked && !body_done_) close_after = true;
  if (close_after) ex_.close = true;
  proxy::build_client_head(res_, framing, request_id_, close_after,
                           !close_after && req_.minor == 0, head_out_);
  ex_.status = res_.status;
  ex_.response_started = true;

  // Body bytes that came with the head.
  std::size_t ahead_off = res_.head_size;
  std::size_t ahead_len = up_len_ - res_.head_size;
  up_len_ = 0;

  if (res_.body == http::BodyKind::none) {
    if (ahead_len > 0) up_len_ = ahead_len;  // junk after the head: do not reuse
    body_complete();
    const auto ec = co_await write_client(head_out_);
    co_return ec ? RelayResult::client_failed : RelayResult::ok;
  }

  if (res_.body == http::BodyKind::length) {
    std::uint64_t remaining = res_.content_length;
    const std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(ahead_len, remaining));
    if (ahead_len > first) up_len_ = ahead_len - first;  // extra bytes: do not reuse
    capture(std::string_view(up_in_.data() + ahead_off, first));
    if (first == remaining) body_complete();
    remaining -= first;
    // A larger body: take what the upstream has already sent along into the same
    // write as the head (one non-blocking look, plain connections), instead of a small
    // write now and another after the next read.
    std::size_t more = 0;
    if (remaining > 0) {
      ensure_relay();
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(relay_.size(), remaining));
      more = conn.try_read(relay_.data(), want);
      if (more > 0) {
        remaining -= more;
        capture(std::string_view(relay_.data(), more));
        if (remaining == 0) body_complete();
      }
    }
    const asio::const_buffer parts[] = {asio::buffer(head_out_),
                                        asio::buffer(up_in_.data() + ahead_off, first),
                                        asio::buffer(relay_.data(), more)};
    auto ec = co_await write_client(parts);
    if (ec) co_return RelayResult::client_failed;
    while (remaining > 0) {
      if (upstream_deadline_->fired()) co_return RelayResult::upstream_failed;
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(relay_.size(), remaining));
      auto [rec, n] = co_await conn.read_some(relay_.data(), want);
      if (rec) co_return RelayResult::upstream_failed;
      remaining -= n;
      capture(std::string_view(relay_.data(), n));
      if (remaining == 0) body_complete();
      const asio::const_buffer b = asio::buffer(relay_.data(), n);
      ec = co_await write_client(std::span<const asio::const_buffer>(&b, 1));
      if (ec) co_return RelayResult::client_failed;
    }
    co_return RelayResult::ok;
  }

  const bool to_chunked = framing == proxy::ClientFraming::chunked;
  if (res_.body == http::BodyKind::until_close) {
    chunk_out_.clear();
    std::string_view first(up_in_.data() + ahead_off, ahead_len);
    if (!first.empty()) {
      capture(first);
      if (to_chunked) append_chunk(chunk_out_, first);
      else chunk_out_.append(first);
    }
    const asio::const_buffer parts[] = {asio::buffer(head_out_), asio::buffer(chunk_out_)};
    auto ec = co_await write_client(parts);
    if (ec) co_return RelayResult::client_failed;
    ensure_relay();
    for (;;) {
      if (upstream_deadline_->fired()) co_return RelayResult::upstream_failed;
      auto [rec, n] = co_await conn.read_some(relay_.data(), relay_.size());
      if (rec == asio::error::eof || (rec == asio::ssl::error::stream_truncated && n == 0)) break;
      if (rec) co_return RelayResult::upstream_failed;
      chunk_out_.clear();
      std::string_view piece(relay_.data(), n);
      capture(piece);
      if (to_chunked) append_chunk(chunk_out_, piece);
      else chunk_out_.append(piece);
      ec = co_await write_client(chunk_out_);
      if (ec) co_return RelayResult::client_failed;
    }
    res_.keep_alive = false;
    body_complete();
    if (to_chunked) {
      ec = co_await write_client(std::string_view("0\r\n\r\n"));
      if (ec) co_return RelayResult::client_failed;
    }
    co_return RelayResult::ok;
  }

  // Chunked from upstream: validate and re-encode (or de-chunk for HTTP/1.0 clients).
  decoder_.reset();
  bool done = false;
  bool bad = false;
  std::size_t leftover = 0;
  auto feed = [&](std::string_view data) {
    std::size_t used = 0;
    const auto r = decoder_.decode(data, used, [&](std::string_view piece) {
      capture(piece);
      if (to_chunked) append_chunk(chunk_out_, piece);
      else chunk_out_.append(piece);
    });
    if (r == http::ChunkedDecoder::Result::error) bad = true;
    if (r == http::ChunkedDecoder::Result::done) {
      done = true;
      body_complete();
      leftover = data.size() - used;
      if (to_chunked) chunk_out_.append("0\r\n\r\n");
    }
  };
  chunk_out_.clear();
  feed(std::string_view(up_in_.data() + ahead_off, ahead_len));
  {
    const asio::const_buffer parts[] = {asio::buffer(head_out_), asio::buffer(chunk_out_)};
    const auto ec = co_await write_client(parts);
    if (ec) co_return RelayResult::client_failed;
  }
  if (bad) co_return RelayResult::upstream_failed;
  ensure_relay();
  while (!done) {
    if (upstream_deadline_->fired()) co_return RelayResult::upstream_failed;
    auto [rec, n] = co_await conn.read_some(relay_.data(), relay_.size());
    if (rec) co_return RelayResult::upstream_failed;
    chunk_out_.clear();
    feed(std::string_view(relay_.data(), n));
    if (!chunk_out_.empty()) {
      const auto ec = co_await write_client(chunk_out_);
      if (ec) co_return RelayResult::client_failed;
    }
    if (bad) co_return RelayResult::upstream_failed;
  }
  up_len_ = leftover;
  co_return RelayResult::ok;
}

}  // namespace gatehouse::server

namespace gatehouse::server {

void Session::start_capture(health::EndpointState& state) {
  capturing_ = false;
  capture_.clear();
  health::ResponseCache* cache = state.cache();
  if (!cache || (req_.method != "GET" && req_.method != "HEAD")) return;
  if (res_.status < 200 || res_.status > 299) return;
  if (!health::storable(req_.method, health::has_credentials(req_.fields), res_.status,
                        res_.fields)) {
    // The newest successful answer may not be kept: an older one is no longer "the
    // last successful response".
    cache->erase(req_.method, path_, req_.query);
    return;
  }
  capture_limit_ = cache->max_entry_bytes();
  if (res_.body == http::BodyKind::length && res_.content_length > capture_limit_) return;
  capturing_ = true;
}

void Session::capture(std::string_view piece) {
  if (!capturing_) return;
  if (capture_.size() + piece.size() > capture_limit_) {
    capturing_ = false;  // too large to keep
    capture_.clear();
    return;
  }
  capture_.append(piece);
}

void Session::finish_capture(health::EndpointState& state, bool complete) {
  if (!capturing_) return;
  capturing_ = false;
  if (!complete) return;
  health::CachedResponse entry;
  entry.status = res_.status;
  for (const auto& f : res_.fields) {
    if (http::is_hop_by_hop(f.name) || http::named_by_connection(f.name, res_.connection_tokens) ||
        http::iequals(f.name, "content-length") || http::iequals(f.name, "x-request-id") ||
        http::iequals(f.name, "age"))
      continue;
    entry.headers.emplace_back(std::string(f.name), std::string(f.value));
    if (http::iequals(f.name, "cache-control")) {
      health::CacheControl cc;
      health::parse_cache_control(f.value, cc);
      entry.is_public = entry.is_public || cc.is_public;
    }
  }
  entry.body = std::move(capture_);
  capture_.clear();
  state.cache()->store(req_.method, path_, req_.query, std::move(entry));
}

net::Task<void> Session::send_fallback(const registry::EndpointRuntime& ep,
                                       const health::Admission& admission) {
  const auto& cfg = *ep.config;
  const auto& strategy = cfg.circuit_breaker.fallback_strategy;
  if (strategy == "default" && cfg.fallback) {
    ex_.fallback = "default";
    co_await send_response(cfg.fallback->status, cfg.fallback->content_type, cfg.fallback->body,
                           "X-Gatehouse-Fallback: default\r\n");
    co_return;
  }
  if (strategy == "cached" && ep.state->cache() &&
      (req_.method == "GET" || req_.method == "HEAD")) {
    auto hit = ep.state->cache()->lookup(req_.method, path_, req_.query,
                                         health::has_credentials(req_.fields));
    if (hit) {
      ex_.fallback = "cached";
      std::string extra;
      std::string_view content_type = "application/octet-stream";
      for (const auto& [name, value] : hit->response->headers) {
        if (http::iequals(name, "content-type")) {
          content_type = value;
          continue;
        }
        extra.append(name).append(": ").append(value).append("\r\n");
      }
      extra.append("Age: ").append(std::to_string(hit->age_s)).append("\r\n");
      extra.append("X-Gatehouse-Fallback: cached\r\n");
      co_await send_response(hit->response->status, content_type, hit->response->body, extra);
      co_return;
    }
  }
  ex_.fallback = "error";
  const std::string retry_after =
      "Retry-After: " + std::to_string(std::max<std::uint32_t>(1, admission.retry_after_s)) + "\r\n";
  co_await send_error(ErrorCode::circuit_open,
                      "circuit breaker for endpoint '" + cfg.id + "' is open", cfg.id, retry_after);
}

}  // namespace gatehouse::server
