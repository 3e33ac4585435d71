#include "server/tunnel.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ssl/error.hpp>

namespace gatehouse::server {

namespace asio = boost::asio;
using net::Clock;

namespace {
// The peer finished sending: FIN on TCP; on TLS its close_notify (eof) or a bare FIN.
bool is_end_of_input(const net::error_code& ec) {
  return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
}
}  // namespace

Tunnel::Tunnel(net::Stream& client, net::Stream& upstream, net::Clock::duration idle)
    : buffers_(new char[2 * kBuffer]),  // not zeroed: pages are touched only when used
      client_{client},
      upstream_{upstream},
      up_{client_, upstream_, buffers_.get()},
      down_{upstream_, client_, buffers_.get() + kBuffer},
      idle_(idle),
      deadline_(std::make_shared<net::Deadline>(client.socket().get_executor())) {}

Tunnel::~Tunnel() { deadline_->stop(); }

std::string_view Tunnel::to_string(End e) {
  switch (e) {
    case End::closed: return "closed";
    case End::idle: return "idle_timeout";
    case End::shutdown: return "shutdown";
    case End::error: return "error";
  }
  return "closed";
}

void Tunnel::activity() { deadline_->arm(Clock::now() + idle_, this); }

void Tunnel::close(End why) {
  if (aborted_) return;
  aborted_ = true;
  end_ = why;
  // Pending reads and writes of both directions complete now; the pumps see aborted_.
  client_.stream.cancel();
  upstream_.stream.cancel();
}

net::Task<void> Tunnel::run(std::string_view client_ahead) {
  activity();
  // Both directions read and write each socket at once: no read marks a socket drained
  // (net/stream.cpp, socket_read).
  client_.stream.watch_fin(false);
  upstream_.stream.watch_fin(false);
  if (!client_ahead.empty()) {
    const asio::const_buffer b(client_ahead.data(), client_ahead.size());
    auto [ec, n] = co_await upstream_.stream.write(std::span<const asio::const_buffer>(&b, 1));
    up_.bytes += n;
    if (ec) close(End::error);
  }
  // Downstream runs beside upstream; run() returns once both have ended.
  const auto ex = client_.stream.socket().get_executor();
  bool down_done = false;
  net::Timer joined(ex);
  joined.expires_at(Clock::time_point::max());
  asio::co_spawn(ex, pump(down_), [&down_done, &joined](std::exception_ptr) {
    down_done = true;
    joined.cancel();
  });
  co_await pump(up_);
  while (!down_done) {
    [[maybe_unused]] auto [ec] = co_await joined.async_wait(net::use_task);
  }
  deadline_->stop();
}

net::Task<void> Tunnel::pump(Direction& d) {
  while (!aborted_) {
    auto [ec, n] = co_await d.from.stream.read_some(d.buffer, kBuffer);
    if (n > 0 && !aborted_) {
      activity();
      d.bytes += n;
      // The next read waits for this write: back-pressure from `to` reaches `from`.
      const asio::const_buffer b(d.buffer, n);
      [[maybe_unused]] auto [wec, written] = co_await d.to.stream.write(std::span<const asio::const_buffer>(&b, 1));
      if (wec) {
        close(End::error);
        break;
      }
      activity();
      continue;
    }
    if (aborted_) break;
    if (!is_end_of_input(ec)) {
      close(End::error);  // a reset: nothing more can be passed on either way
      break;
    }
    // A half-close: passed on; the other direction goes on until its own end.
    d.from.read_done = true;
    co_await shut_write(d.to);
    if (d.from.close_notify_pending) co_await shut_write(d.from);
    break;
  }
}

net::Task<void> Tunnel::shut_write(Side& s) {
  if (!s.stream.is_tls()) {
    net::error_code ignored;
    s.stream.socket().shutdown(net::Socket::shutdown_send, ignored);
    co_return;
  }
  // A TLS shutdown reads the peer's close_notify too, so it must not run beside a pending
  // read on the same stream: it waits until that side's reads have ended.
  if (!s.read_done) {
    s.close_notify_pending = true;
    co_return;
  }
  s.close_notify_pending = false;
  co_await s.stream.send_close_notify();
}

}  // namespace gatehouse::server
