#include "server/connection.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>

#include <boost/asio/co_spawn.hpp>

#include "http/headers.hpp"
#include "logging/log.hpp"
#include "server/server.hpp"
#include "server/tunnel.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

namespace asio = boost::asio;
using net::Clock;

static_assert(std::is_same_v<std::coroutine_traits<net::Task<bool>, Connection&>::promise_type,
                             net::PooledFrame<bool>>,
              "Connection's coroutines take their frames from the pool");

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
}  // namespace

Connection::Connection(Worker& worker, net::Socket socket, const net::Tcp::endpoint& peer)
    : w_(worker),
      stream_(std::move(socket)),
      client_deadline_(std::make_shared<net::Deadline>(w_.ctx.get_executor())),
      client_ip_(peer.address().to_string()) {
  // TCP_NODELAY comes from the listening socket (Server::bind_all).
  w_.connections.insert(this);
  w_.server.connections_open.fetch_add(1, std::memory_order_relaxed);
}

Connection::~Connection() {
  w_.connections.erase(this);
  w_.server.connections_open.fetch_sub(1, std::memory_order_relaxed);
}

std::size_t Worker::trim_idle_connections(net::Clock::time_point now) {
  std::size_t n = 0;
  for (auto* c : connections) n += c->trim_if_idle(now);  // only cancels
  return n;
}

bool Connection::trim_if_idle(net::Clock::time_point now) {
  if (!idle_ || trim_requested_ || in_.len != 0 || in_.data.empty() ||
      now - idle_since_ < kTrimAfter)
    return false;
  trim_requested_ = true;
  stream_.cancel();
  return true;
}

void Connection::trim() {
  w_.spare_reads.give(in_.data, kInitialBuffer);
  give_pipeline();
}

void Connection::take_pipeline() {
  if (w_.spare_pipelines.take(pipeline_)) pipeline_->bind(*this);
  else pipeline_.reset(new Pipeline(w_, *this));
}

void Connection::give_pipeline() {
  if (!pipeline_) return;
  pipeline_->unbind();
  w_.spare_pipelines.give(std::move(pipeline_));
  pipeline_.reset();  // the spares were full: freed
}

bool Connection::park() {
  trim();
  // Readiness that was reported while nothing waited would be lost with edge-triggered
  // epoll, so look first; anything that arrives after this look is reported to the wait
  // (this thread does not poll in between).
  if (stream_.readable_now()) {  // data, or EOF / an error for the read to report
    unpark();
    return false;
  }
  wait_readable();
  return true;
}

void Connection::wait_readable() {
  stream_.socket().async_wait(net::Tcp::socket::wait_read,
                              [self = shared_from_this()](const net::error_code& ec) {
                                self->wake(ec);
                              });
}

void Connection::wake(const net::error_code& ec) {
  if (!ec && !closed_ && !stream_.readable_now()) {
    wait_readable();  // readiness without anything to read: wait again
    return;
  }
  if (ec) {  // idle timeout, drain
    idle_ = false;
    client_deadline_->disarm();
    closed_ = true;  // run() skips to the end of the connection
  } else {
    unpark();
  }
  resume();
}

void Connection::unpark() {
  idle_ = false;
  w_.spare_reads.take(in_.data, kInitialBuffer);
  take_pipeline();
}

void Connection::resume() {
  // The function object holds a reference until run() has taken its own.
  asio::co_spawn(w_.ctx.get_executor(), [self = shared_from_this()] { return self->run(); },
                 [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      logging::error("session ended by an unexpected exception",
                     {{"error", std::string_view(ex.what())},
                      {"stack", std::string_view(logging::current_stacktrace())}});
    }
  });
}

void Connection::close_if_idle() {
  if (idle_) {
    stream_.cancel();
    closed_ = true;
  }
}

void Connection::close_tunnel() {
  if (tunnel_) tunnel_->close(Tunnel::End::shutdown);
}

net::Task<void> Connection::run() {
  auto self = shared_from_this();
  if (!started_) {
    started_ = true;
    if (!co_await start_tls_if_configured()) {
      client_deadline_->stop();
      trim();
      stream_.shutdown_and_close();
      co_return;
    }
    w_.spare_reads.take(in_.data, kInitialBuffer);
    take_pipeline();
  }
  while (!closed_) {
    if (!co_await read_head()) {
      if (!parked_) break;
      parked_ = false;
      if (park()) co_return;  // wake() runs it again
      continue;
    }
    ++requests_;
    co_await pipeline_->run();
    pipeline_->forwarder().release_buffers();
    if (ctx().close || w_.server.draining()) break;
    // A connection kept alive: its reads may mark it drained from now on (one epoll_ctl
    // for the FIN watch, which a connection of one request does not pay).
    if (requests_ == 1) stream_.watch_fin();
    // Keep what the client pipelined after this request.
    if (in_.used < in_.len)
      std::memmove(in_.data.data(), in_.data.data() + in_.used, in_.len - in_.used);
    in_.len -= in_.used;
    in_.used = 0;
    if (in_.len == 0 && w_.connections.size() >= kParkAtOnceAbove) {
      // Many connections on this thread: one waiting for its next request holds no
      // buffers from now on (nginx's keep-alive behaviour), for one more system call
      // per request.
      idle_ = true;
      idle_since_ = Clock::now();
      client_deadline_->arm(idle_since_ + limits().idle_timeout, &stream_.socket());
      if (park()) co_return;
      continue;
    }
    if (in_.len == 0 && in_.data.size() > kInitialBuffer) {
      in_.data = std::vector<char>();
      w_.spare_reads.take(in_.data, kInitialBuffer);
      std::string().swap(pipeline_->forwarder().exchange().head_out());
    }
  }
  if (stream_.is_tls()) {
    client_deadline_->arm(Clock::now() + limits().idle_timeout, &stream_.socket());
    co_await stream_.send_close_notify();
  }
  client_deadline_->stop();
  const bool done_sending = client_done_sending();
  trim();  // the pipeline serves another connection next
  if (done_sending) stream_.close();
  else stream_.shutdown_and_close();
}

bool Connection::client_done_sending() {
  if (peer_closed_) return true;
  if (!pipeline_) return false;
  // The client said this request was its last (HTTP/1.0, or Connection: close: it must
  // not send another, RFC 9112 9.6), the request had no body and nothing came after it,
  // and it was answered, not refused: nothing of the client's is left to read. Any other
  // end keeps the half-close (an answer refusing a request whose body the client is still
  // sending, a drain or an upstream's close between keep-alive requests).
  const auto& ctx = this->ctx();
  const auto& req = ctx.req;
  return requests_ > 0 && ctx.close && !req.keep_alive && req.body == http::BodyKind::none &&
         in_.used == in_.len && !ctx.failure && !ctx.error;
}

net::Task<bool> Connection::start_tls_if_configured() {
  const auto& snap = w_.server.snapshot(w_);
  if (!snap->tls) co_return true;
  tls_ = snap->tls;  // a reload meanwhile serves new handshakes with its own
  const auto deadline = Clock::now() + snap->config->limits.header_timeout;
  // Until its first byte the connection holds its socket and this frame only; drain
  // closes it like an idle one.
  idle_ = true;
  client_deadline_->arm(deadline, &stream_.socket());
  // The first bytes are read here, into this thread's scratch buffer (a connection holds
  // nothing of its own before they come), and handed to the TLS layer: one receive for
  // the look at the first byte and the start of the handshake. It is read only between
  // a receive and start_tls, with no suspension between them.
  thread_local std::array<char, net::Stream::kFirstBytes> hello;
  ssize_t got = -1;
  for (;;) {
    // Try before waiting: readiness reported while nothing waited is not reported again.
    got = ::recv(stream_.socket().native_handle(), hello.data(), hello.size(), MSG_DONTWAIT);
    if (got >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
    auto [ec] = co_await stream_.socket().async_wait(net::Tcp::socket::wait_read, net::use_task);
    if (ec) break;
  }
  idle_ = false;
  if (got <= 0 || closed_) {
    client_deadline_->disarm();
    // A client that sent nothing before header_timeout stalled its handshake; one that
    // connected and left (a port probe) attempted none.
    if (client_deadline_->fired()) w_.server.metrics().count_tls_handshake(false);
    co_return false;
  }
  const auto first = static_cast<unsigned char>(hello[0]);
  const bool letter = (first >= 'A' && first <= 'Z') || (first >= 'a' && first <= 'z');
  if (letter) {
    // Plain HTTP (a request line begins with a method token; a TLS record with 0x16):
    // the rest of its bytes are read too, so closing does not reset the connection under
    // the answer.
    client_deadline_->disarm();
    w_.spare_reads.take(in_.data, kInitialBuffer);
    take_pipeline();
    while (stream_.try_read(in_.data.data(), in_.data.size()) == in_.data.size()) {
    }
    ctx().reset();
    ctx().start = Clock::now();
    co_await pipeline_->refuse(proxy::errors::plain_http_on_tls());
    co_return false;
  }
  if (first != 0x16) {
    client_deadline_->disarm();
    w_.server.metrics().count_tls_handshake(false);
    co_return false;
  }
  const std::string_view received(hello.data(), static_cast<std::size_t>(got));
  if (!stream_.start_tls(tls_->context(), received)) {
    client_deadline_->disarm();
    w_.server.metrics().count_tls_handshake(false);
    co_return false;
  }
  const auto ec = co_await stream_.handshake(/*server=*/true);
  client_deadline_->disarm();
  w_.server.metrics().count_tls_handshake(!ec);
  if (ec) co_return false;
  if (tls_->verifies_clients()) client_cert_subject_ = net::ServerTls::peer_subject(stream_.ssl());
  co_return true;
}

config::Limits Connection::limits() { return w_.server.snapshot(w_)->config->limits; }

net::Task<bool> Connection::read_head() {
  const config::Limits limits = this->limits();
  const http::HeadLimits head_limits{limits.max_request_line, limits.max_header_bytes,
                                     limits.max_headers};
  const std::size_t cap = limits.max_request_line + limits.max_header_bytes + 1024;
  bool header_clock_started = false;
  bool header_armed = false;
  RequestContext& ctx = this->ctx();
  ctx.reset();
  for (;;) {
    if (in_.len > 0) {
      http::HeadError err = http::HeadError::none;
      const auto status =
          http::parse_request(std::string_view(in_.data.data(), in_.len), head_limits, ctx.req, err);
      if (status == http::ParseStatus::done) {
        client_deadline_->disarm();
        if (!header_clock_started) ctx.start = Clock::now();
        in_.used = ctx.req.head_size;
        ctx.bytes_in = ctx.req.head_size;
        co_return true;
      }
      if (status == http::ParseStatus::error) {
        client_deadline_->disarm();
        ctx.start = Clock::now();
        co_await pipeline_->refuse(proxy::errors::from_head(err));
        co_return false;
      }
      // Incomplete: from now on the rest of the head must come within header_timeout
      // (armed only here: a head that arrives whole never touches the timer).
      if (!header_armed) {
        header_armed = true;
        if (!header_clock_started) {
          header_clock_started = true;
          ctx.start = Clock::now();
        }
        client_deadline_->arm(ctx.start + limits.header_timeout, &stream_.socket());
      }
    } else {
      idle_ = true;
      trim_requested_ = false;
      if (w_.server.draining() || closed_) co_return false;
      // A new connection gets header_timeout for its first request, as if its headers
      // had started: an idle keep-alive connection gets idle_timeout.
      idle_since_ = Clock::now();
      client_deadline_->arm(
          idle_since_ + (requests_ == 0 ? limits.header_timeout : limits.idle_timeout), &stream_.socket());
    }
    if (in_.len == in_.data.size()) {
      if (in_.data.size() >= cap) co_return false;  // unreachable: the parser refuses first
      in_.data.resize(std::min(cap, in_.data.size() * 2));
    }
    char* const into = in_.data.data() + in_.len;
    const std::size_t room = in_.data.size() - in_.len;
    net::error_code ec;
    std::size_t n = 0;
    // No coroutine frame for a plain read (net::Stream::read_now).
    if (stream_.is_tls()) {
      std::tie(ec, n) = co_await stream_.read_some(into, room);
    } else if (!stream_.read_now(into, room, ec, n)) {
      std::tie(ec, n) = co_await stream_.read_wait(into, room);
      stream_.read_waited(ec, n, room);
    }
    if (ec == boost::asio::error::operation_aborted && trim_requested_ && in_.len == 0 &&
        !closed_ && !client_deadline_->fired()) {
      // Idle for a while: run() gives the buffers and the pipeline back and waits for
      // the next request without them (and without any frame).
      parked_ = true;
      co_return false;
    }
    idle_ = false;
    if (ec) {
      const bool timed_out = client_deadline_->fired();
      client_deadline_->disarm();
      // The client's end (a FIN, with or without close_notify) or a reset: nothing more
      // can come from it.
      peer_closed_ = !timed_out && (ec == boost::asio::error::eof ||
                                    ec == boost::asio::ssl::error::stream_truncated ||
                                    ec == boost::asio::error::connection_reset);
      if (timed_out && in_.len > 0) co_await pipeline_->refuse(proxy::errors::head_timeout());
      co_return false;  // EOF, reset, idle timeout, drain
    }
    if (!header_clock_started) {
      header_clock_started = true;
      ctx.start = Clock::now();
    }
    in_.len += n;
  }
}

}  // namespace gatehouse::server
