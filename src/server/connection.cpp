// The downstream connection: the socket, the read buffer and head reading, the
// keep-alive loop, parking and trimming an idle connection, drain, the client deadline,
// and the writes and reads towards the client (the only raw-fd use is unsent_bytes and
// park's readiness look).
#include "server/session.hpp"

#include <boost/asio/write.hpp>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "http/headers.hpp"
#include "net/readable.hpp"
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

// Bytes written to a socket that its peer has not acknowledged yet (SIOCOUTQ).
std::int64_t unsent_bytes(net::Socket& socket) {
  int queued = 0;
  if (::ioctl(socket.native_handle(), SIOCOUTQ, &queued) != 0 || queued < 0) return 0;
  return queued;
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
  std::string().swap(body_out_);
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
    if (net::readable_now(socket_)) {
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
        req_.clear();
        request_id_.clear();
        http::generate_request_id(request_id_);
        co_await send_gateway_error(proxy::errors::from_head(err));
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
        req_.clear();
        request_id_.clear();
        http::generate_request_id(request_id_);
        co_await send_gateway_error(proxy::errors::head_timeout());
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

}  // namespace gatehouse::server
