#include "server/session.hpp"

#include <boost/asio/write.hpp>
#include <charconv>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "admin/admin.hpp"
#include "admin/metrics_page.hpp"
#include "http/headers.hpp"
#include "logging/log.hpp"
#include "router/normalize.hpp"
#include "server/server.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

namespace asio = boost::asio;
using net::Clock;

static_assert(std::is_same_v<std::coroutine_traits<net::Task<bool>, Session&>::promise_type,
                             net::PooledFrame<bool>>,
              "Session's coroutines take their frames from the pool");

namespace {
// Most request heads fit; the buffer grows for larger ones and shrinks back when the
// connection goes idle.
constexpr std::size_t kInitialBuffer = Worker::kReadBuffer;
// A keep-alive connection idle this long gives its buffers back and waits for its next
// request without one.
constexpr auto kTrimAfter = std::chrono::milliseconds(100);
// With this many connections on a thread, a connection gives its buffers back as soon
// as it has answered (memory first: the connections are mostly idle).
constexpr std::size_t kParkAtOnceAbove = 1024;
// Writes up to this size go out under one idle_timeout deadline (every proxied piece
// does); larger ones in slices, each with its own.
constexpr std::size_t kWholeWrite = 256 * 1024;
constexpr std::size_t kSlice = 64 * 1024;

bool is_under(std::string_view path, std::string_view prefix) {
  return path.size() >= prefix.size() && path.substr(0, prefix.size()) == prefix &&
         (path.size() == prefix.size() || path[prefix.size()] == '/');
}

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

// Bytes written to a socket that its peer has not acknowledged yet (SIOCOUTQ).
std::int64_t unsent_bytes(net::Socket& socket) {
  int queued = 0;
  if (::ioctl(socket.native_handle(), SIOCOUTQ, &queued) != 0 || queued < 0) return 0;
  return queued;
}

bool is_reserved(std::string_view path) {
  for (std::string_view p : {"/endpoints", "/metrics", "/healthz", "/readyz", "/dashboard"})
    if (is_under(path, p)) return true;
  return false;
}
}  // namespace

Session::Session(Worker& worker, net::Socket socket)
    : w_(worker),
      socket_(std::move(socket)),
      client_deadline_(std::make_shared<net::Deadline>(w_.ctx.get_executor())),
      upstream_deadline_(std::make_shared<net::Deadline>(w_.ctx.get_executor())) {
  net::error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  if (!ec) client_ip_ = remote.address().to_string();
  socket_.set_option(net::Tcp::no_delay(true), ec);
  w_.sessions.insert(this);
  w_.server.connections_open.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() {
  w_.sessions.erase(this);
  w_.server.connections_open.fetch_sub(1, std::memory_order_relaxed);
}

bool Session::trim_if_idle(net::Clock::time_point now) {
  if (!idle_ || trim_requested_ || in_len_ != 0 || in_.empty() ||
      now - idle_since_ < kTrimAfter)
    return false;
  trim_requested_ = true;
  net::error_code ignored;
  socket_.cancel(ignored);
  return true;
}

void Session::trim() {
  w_.spare_reads.give(in_, kInitialBuffer);
  Worker::Scratch s;
  s.req_fields = std::move(req_.fields);
  s.res_fields = std::move(res_.fields);
  s.req_tokens = std::move(req_.connection_tokens);
  s.res_tokens = std::move(res_.connection_tokens);
  s.head_out = std::move(head_out_);
  s.path = std::move(path_);
  s.up_path = std::move(up_path_);
  s.request_id = std::move(request_id_);
  w_.spare_scratch.give(std::move(s));
  // The moved-from containers own nothing now. These two are not pooled: swapping with
  // an empty string frees them (assigning one would keep the capacity).
  std::string().swap(chunk_out_);
  std::string().swap(capture_);
}

void Session::adopt_scratch() {
  Worker::Scratch s;
  if (!w_.spare_scratch.take(s)) return;
  req_.fields = std::move(s.req_fields);
  res_.fields = std::move(s.res_fields);
  req_.connection_tokens = std::move(s.req_tokens);
  res_.connection_tokens = std::move(s.res_tokens);
  head_out_ = std::move(s.head_out);
  path_ = std::move(s.path);
  up_path_ = std::move(s.up_path);
  request_id_ = std::move(s.request_id);
  req_.fields.clear();
  res_.fields.clear();
  req_.connection_tokens.clear();
  res_.connection_tokens.clear();
  head_out_.clear();
  path_.clear();
  up_path_.clear();
  request_id_.clear();
}

net::Task<bool> Session::park() {
  trim();
  upstream_deadline_->release();
  bool readable = false;
  for (;;) {
    // Readiness that was reported while nothing waited would be lost with edge-triggered
    // epoll, so look first; anything that arrives after this look is reported to the
    // wait below (this thread does not poll in between).
    char byte;
    const ssize_t r = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      readable = true;  // data, or EOF / an error for the read to report
      break;
    }
    auto [ec] = co_await socket_.async_wait(net::Tcp::socket::wait_read, net::use_task);
    if (ec) break;  // idle timeout, drain
  }
  idle_ = false;
  if (!readable) {
    client_deadline_->disarm();
    co_return false;
  }
  w_.spare_reads.take(in_, kInitialBuffer);
  adopt_scratch();
  co_return true;
}

void Session::close_if_idle() {
  if (idle_) {
    net::error_code ignored;
    socket_.cancel(ignored);
    closed_ = true;
  }
}

net::Task<void> Session::run() {
  auto self = shared_from_this();
  w_.spare_reads.take(in_, kInitialBuffer);
  adopt_scratch();
  while (!closed_) {
    if (!co_await read_head()) {
      if (!parked_) break;
      parked_ = false;
      if (!co_await park()) break;
      continue;
    }
    co_await handle_request();
    release_buffers();
    if (ex_.close || w_.server.draining()) break;
    // Keep what the client pipelined after this request.
    if (in_used_ < in_len_) std::memmove(in_.data(), in_.data() + in_used_, in_len_ - in_used_);
    in_len_ -= in_used_;
    in_used_ = 0;
    if (in_len_ == 0 && w_.sessions.size() >= kParkAtOnceAbove) {
      // Many connections on this thread: one waiting for its next request holds no
      // buffers from now on (nginx's keep-alive behaviour), for one more system call
      // per request.
      idle_ = true;
      idle_since_ = Clock::now();
      client_deadline_->arm(idle_since_ + current_limits().idle_timeout, &socket_);
      if (!co_await park()) break;
      continue;
    }
    if (in_len_ == 0 && in_.size() > kInitialBuffer) {
      in_ = std::vector<char>();
      w_.spare_reads.take(in_, kInitialBuffer);
      std::string().swap(head_out_);
    }
  }
  client_deadline_->stop();
  upstream_deadline_->stop();
  w_.spare_reads.give(in_, kInitialBuffer);
  net::error_code ignored;
  socket_.shutdown(net::Tcp::socket::shutdown_send, ignored);
  socket_.close(ignored);
}

net::Task<std::tuple<net::error_code, std::size_t>> Session::read_client(char* data,
                                                                         std::size_t size) {
  auto [ec, n] = co_await socket_.async_read_some(asio::buffer(data, size), net::use_task);
  co_return std::tuple{ec, n};
}

net::Task<net::error_code> Session::write_client(std::span<const asio::const_buffer> buffers) {
  const config::Limits limits = current_limits();
  std::size_t total = 0;
  for (const auto& b : buffers) total += b.size();
  if (total <= kWholeWrite) {
    client_deadline_->arm(Clock::now() + limits.idle_timeout, &socket_);
    auto [ec, n] = co_await asio::async_write(socket_, buffers, net::use_task);
    client_deadline_->disarm();
    ex_.bytes_out += n;
    co_return ec;
  }
  // A large answer of the gateway's own (stats of many endpoints, metrics, a long error
  // list) goes out in slices, and its deadline moves with progress: what counts is the
  // bytes the client has acknowledged, not the writes (with megabytes of socket buffer a
  // write can wait longer than idle_timeout for a client that reads steadily). A client
  // that acknowledges nothing for idle_timeout is cut off.
  // (Signed: the queue may still hold bytes of an earlier answer on this connection.)
  std::int64_t written = 0;
  for (const auto& b : buffers) {
    const char* data = static_cast<const char*>(b.data());
    for (std::size_t off = 0; off < b.size();) {
      const std::size_t len = std::min(kSlice, b.size() - off);
      const std::int64_t acked_before = written - unsent_bytes(socket_);
      client_deadline_->arm(Clock::now() + limits.idle_timeout, &socket_);
      auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(data + off, len), net::use_task);
      const bool timed_out = client_deadline_->fired();
      client_deadline_->disarm();
      ex_.bytes_out += n;
      written += static_cast<std::int64_t>(n);
      off += n;
      if (ec && !(timed_out && written - unsent_bytes(socket_) > acked_before)) co_return ec;
    }
  }
  co_return net::error_code{};
}

net::Task<net::error_code> Session::write_client(std::string_view data) {
  const asio::const_buffer b(data.data(), data.size());
  const auto ec = co_await write_client(std::span<const asio::const_buffer>(&b, 1));
  co_return ec;
}

net::Task<bool> Session::read_head() {
  const config::Limits limits = current_limits();
  const http::HeadLimits head_limits{limits.max_request_line, limits.max_header_bytes,
                                     limits.max_headers};
  const std::size_t cap = limits.max_request_line + limits.max_header_bytes + 1024;
  bool header_clock_started = false;
  bool header_armed = false;
  ex_ = Exchange{};
  for (;;) {
    if (in_len_ > 0) {
      http::HeadError err = http::HeadError::none;
      const auto status =
          http::parse_request(std::string_view(in_.data(), in_len_), head_limits, req_, err);
      if (status == http::ParseStatus::done) {
        client_deadline_->disarm();
        if (!header_clock_started) ex_.start = Clock::now();
        in_used_ = req_.head_size;
        ex_.bytes_in = req_.head_size;
        co_return true;
      }
      if (status == http::ParseStatus::error) {
        client_deadline_->disarm();
        ex_.start = Clock::now();
        ex_.close = true;
        req_.clear();
        request_id_.clear();
        http::generate_request_id(request_id_);
        switch (err) {
          case http::HeadError::uri_too_long:
            co_await send_error(ErrorCode::uri_too_long, "request line too long");
            break;
          case http::HeadError::headers_too_large:
            co_await send_error(ErrorCode::headers_too_large, "request header fields too large");
            break;
          case http::HeadError::not_implemented:
            co_await send_error(ErrorCode::not_implemented, "transfer coding not supported");
            break;
          case http::HeadError::connect:
            co_await send_error(ErrorCode::not_implemented, "CONNECT is not supported");
            break;
          default:
            co_await send_error(ErrorCode::bad_request, "malformed request");
            break;
        }
        log_access();
        co_return false;
      }
      // Incomplete: from now on the rest of the head must come within header_timeout
      // (armed only here: a head that arrives whole never touches the timer).
      if (!header_armed) {
        header_armed = true;
        if (!header_clock_started) {
          header_clock_started = true;
          ex_.start = Clock::now();
        }
        client_deadline_->arm(ex_.start + limits.header_timeout, &socket_);
      }
    } else {
      idle_ = true;
      trim_requested_ = false;
      if (w_.server.draining() || closed_) co_return false;
      // A new connection gets header_timeout for its first request, as if its headers
      // had started: an idle keep-alive connection gets idle_timeout.
      idle_since_ = Clock::now();
      client_deadline_->arm(
          idle_since_ + (requests_ == 0 ? limits.header_timeout : limits.idle_timeout), &socket_);
    }
    if (in_len_ == in_.size()) {
      if (in_.size() >= cap) co_return false;  // unreachable: the parser refuses first
      in_.resize(std::min(cap, in_.size() * 2));
    }
    auto [ec, n] = co_await socket_.async_read_some(
        asio::buffer(in_.data() + in_len_, in_.size() - in_len_), net::use_task);
    if (ec == boost::asio::error::operation_aborted && trim_requested_ && in_len_ == 0 &&
        !closed_ && !client_deadline_->fired()) {
      // Idle for a while: give the buffers back; run() waits for the next request
      // without them (and without this frame).
      trim();
      parked_ = true;
      co_return false;
    }
    idle_ = false;
    if (ec) {
      const bool timed_out = client_deadline_->fired();
      client_deadline_->disarm();
      if (timed_out && in_len_ > 0) {
        ex_.close = true;
        req_.clear();
        request_id_.clear();
        http::generate_request_id(request_id_);
        co_await send_error(ErrorCode::request_timeout, "request headers not received in time");
        log_access();
      }
      co_return false;  // EOF, reset, idle timeout, drain
    }
    if (!header_clock_started) {
      header_clock_started = true;
      ex_.start = Clock::now();
    }
    in_len_ += n;
  }
}

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
    if (!ex_.response_started) co_await send_error(ErrorCode::internal_error, "internal error");
  }
  log_access();
  snap_.reset();
  w_.server.requests_active.fetch_sub(1, std::memory_order_relaxed);
}

net::Task<void> Session::route_and_forward() {
  if (req_.upgrade) {
    co_await send_error(ErrorCode::not_implemented, "protocol upgrades are not supported");
    co_return;
  }
  auto normalised = router::normalize_path(req_.path);
  if (!normalised) {
    ex_.close = true;  // a bad request target ends the connection (SPEC 4)
    co_await send_error(ErrorCode::bad_request, "invalid request path");
    co_return;
  }
  path_ = std::move(*normalised);

  if (is_reserved(path_)) {
    const bool get = req_.method == "GET" || req_.method == "HEAD";
    if (path_ == "/healthz" || path_ == "/readyz") {
      if (!get) {
        co_await send_error(ErrorCode::method_not_allowed, "method not allowed", {},
                            "Allow: GET, HEAD\r\n");
      } else if (path_ == "/healthz") {
        co_await send_response(200, "application/json", "{\"status\":\"ok\"}");
      } else if (w_.server.draining() || !w_.server.ready()) {
        ex_.close = true;
        co_await send_error(ErrorCode::draining, "gateway is draining");
      } else {
        co_await send_response(200, "application/json", "{\"status\":\"ready\"}");
      }
      co_return;
    }
    if (is_under(path_, "/endpoints")) {
      co_await handle_admin();
      co_return;
    }
    if (path_ == "/metrics") {
      co_await handle_metrics();
      co_return;
    }
    co_await send_error(ErrorCode::no_route, "no route for this path");
    co_return;
  }

  snap_ = w_.server.snapshot(w_);
  const auto& snap = *snap_;
  const auto match = snap.routes->match(req_.method, path_, req_.api_version);
  if (match.kind == router::RouteMatch::Kind::no_route) {
    co_await send_error(ErrorCode::no_route, "no route for this path");
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
    co_await send_error(ErrorCode::method_not_allowed, "method not allowed", ep.config->id, allow);
    co_return;
  }
  if (req_.body == http::BodyKind::length && req_.content_length > ep.config->max_body) {
    co_await send_error(ErrorCode::payload_too_large, "request body exceeds the limit",
                        ep.config->id);
    co_return;
  }
  if (ep.config->auth_type == "jwt") {
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
  ex_.state = ep.state.get();
  co_await forward(ep, match.matched_prefix);
}

net::Task<void> Session::handle_admin() {
  snap_ = w_.server.snapshot(w_);
  const auto& snap = *snap_;
  const bool insecure = w_.server.options().insecure_admin;
  // Without auth.jwt the API does not exist unless --insecure-admin says otherwise.
  if (!snap.verifier && !insecure) {
    co_await send_error(ErrorCode::no_route, "no route for this path");
    co_return;
  }
  constexpr std::string_view stats = "/endpoints/stats";
  if (path_ == "/endpoints/reload") {
    if (req_.method != "POST") {
      co_await send_error(ErrorCode::method_not_allowed, "method not allowed", {},
                          "Allow: POST\r\n");
      co_return;
    }
    if (!insecure) {
      const bool allowed = co_await admit_admin(snap, snap.config->auth.scopes.reload);
      if (!allowed) co_return;
    }
    snap_.reset();  // this request does not need the old table while the file is read
    const auto outcome = co_await w_.server.reload_from_worker();
    co_await send_reply(admin::reload_reply(outcome.ok, outcome.applied, outcome.config_version,
                                            outcome.diff, outcome.errors, request_id_));
    co_return;
  }
  const bool is_stats = is_under(path_, stats);
  if (!is_stats) {
    co_await send_error(ErrorCode::no_route, "no route for this path");
    co_return;
  }
  if (req_.method != "GET" && req_.method != "HEAD") {
    co_await send_error(ErrorCode::method_not_allowed, "method not allowed", {},
                        "Allow: GET, HEAD\r\n");
    co_return;
  }
  if (!insecure) {
    const bool allowed = co_await admit_admin(snap, snap.config->auth.scopes.stats);
    if (!allowed) co_return;
  }
  const auto info = w_.server.config_info();
  if (path_.size() == stats.size()) {
    co_await send_reply(admin::stats_all(snap, info, req_.query));
  } else {
    std::string_view rest = std::string_view(path_).substr(stats.size() + 1);
    if (rest.empty() || rest.find('/') != std::string_view::npos) {
      co_await send_error(ErrorCode::no_route, "no route for this path");
    } else {
      co_await send_reply(admin::stats_one(snap, rest));
    }
  }
}

net::Task<void> Session::handle_metrics() {
  if (req_.method != "GET" && req_.method != "HEAD") {
    co_await send_error(ErrorCode::method_not_allowed, "method not allowed", {},
                        "Allow: GET, HEAD\r\n");
    co_return;
  }
  snap_ = w_.server.snapshot(w_);
  const auto& snap = *snap_;
  const std::string& scope = snap.config->auth.scopes.metrics;
  // "" = open. A scope needs a token, checked like the stats API's; without auth.jwt it
  // cannot be checked, and the API is absent as the stats API is (--insecure-admin: open).
  if (!scope.empty() && !w_.server.options().insecure_admin) {
    if (!snap.verifier) {
      co_await send_error(ErrorCode::no_route, "no route for this path");
      co_return;
    }
    const bool allowed = co_await admit_admin(snap, scope);
    if (!allowed) co_return;
  }
  const admin::ProcessMetrics process{
      w_.server.connections_open.load(std::memory_order_relaxed), GATEHOUSE_VERSION};
  co_await send_reply(admin::metrics_reply(snap, w_.server.metrics(), process));
}

net::Task<bool> Session::admit_admin(const registry::Snapshot& snap, const std::string& scope) {
  if (scope.empty()) co_return true;  // "" = this API needs no token (auth.scopes)
  const std::string required[] = {scope};
  const auto outcome = admin::authorize(*snap.verifier, req_.fields, required);
  if (outcome.verdict == admin::AuthVerdict::ok) co_return true;
  log_auth_refusal(outcome);
  co_await send_reply(admin::auth_failure_reply(outcome));
  co_return false;
}

void Session::log_auth_refusal(const admin::AuthOutcome& outcome) {
  logging::debug("bearer token refused",
                 {{"request_id", std::string_view(request_id_)},
                  {"path", std::string_view(path_)},
                  {"reason", std::string_view(outcome.reason)}});
}

net::Task<void> Session::send_reply(const admin::Reply& reply, std::string_view endpoint) {
  if (reply.problem) ex_.error = reply.problem;
  if (reply.is_error) {
    co_await send_error(reply.code, reply.detail, endpoint, reply.extra_headers);
  } else {
    co_await send_response(reply.status, reply.content_type, reply.body, reply.extra_headers);
  }
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
  if (chunk_out_.capacity() > 4096) std::string().swap(chunk_out_);
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
