#include "net/stream.hpp"

#include <boost/asio/write.hpp>
#include <array>
#include <cstring>
#include <linux/sockios.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <vector>

#include "net/readable.hpp"
#include "net/tls_io.hpp"

namespace gatehouse::net {

namespace {
// One TLS record's payload at most.
constexpr std::size_t kJoinTlsWrites = 16 * 1024;

// What asio::ssl::stream would report, so callers read TLS and plain ends alike.
error_code tls_error(int ssl_error) {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (ssl_error == SSL_ERROR_ZERO_RETURN) return asio::error::eof;
  if (ssl_error == SSL_ERROR_SYSCALL) {
    if (e == 0 && errno == 0) return asio::ssl::error::stream_truncated;
    if (e == 0) return error_code(errno, boost::system::system_category());
  }
  if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
    return asio::ssl::error::stream_truncated;
  return error_code(static_cast<int>(e), asio::error::get_ssl_category());
}
}  // namespace

static_assert(std::is_same_v<std::coroutine_traits<Task<std::tuple<error_code, std::size_t>>,
                                                   Stream&, char*, std::size_t>::promise_type,
                             PooledFrame<std::tuple<error_code, std::size_t>>>,
              "Stream's coroutines take their frames from the pool");

void Stream::SslFree::operator()(SSL* ssl) const { SSL_free(ssl); }
void Stream::TlsIoFree::operator()(TlsIo* io) const { delete io; }

Stream::~Stream() = default;

bool Stream::start_tls(asio::ssl::context& ctx, std::string_view received) {
  static_assert(kFirstBytes <= TlsIo::kSmall, "the first bytes fit the first receive buffer");
  error_code ec;
  // A socket Asio has run an operation on, or one accepted non-blocking, is non-blocking
  // already (no ioctl).
  if (!socket_.native_non_blocking()) socket_.native_non_blocking(true, ec);
  ssl_.reset(SSL_new(ctx.native_handle()));
  tls_io_.reset(new TlsIo(static_cast<int>(socket_.native_handle())));
  BIO* bio = ssl_ && tls_io_ && !ec && received.size() <= kFirstBytes ? tls_io_->make_bio() : nullptr;
  if (!bio) {
    ERR_clear_error();
    ssl_.reset();
    tls_io_.reset();
    return false;
  }
  SSL_set_bio(ssl_.get(), bio, bio);  // the connection owns it now
  if (!received.empty()) {
    std::size_t room = 0;
    char* into = tls_io_->receive_buffer(room);
    std::memcpy(into, received.data(), received.size());  // room >= kSmall >= size
    tls_io_->received(received.size());
  }
  // A write that must wait is retried with the same bytes, maybe from a moved buffer.
  SSL_set_mode(ssl_.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return true;
}

int Stream::ssl_once(Op op, void* data, std::size_t size, std::size_t& moved) {
  SSL* ssl = ssl_.get();
  // SSL_get_error needs an empty error queue; clearing one costs more than looking.
  if (ERR_peek_error() != 0) ERR_clear_error();
  errno = 0;
  moved = 0;
  int r = 0;
  switch (op) {
    case Op::handshake: r = SSL_do_handshake(ssl); break;
    case Op::read: r = SSL_read_ex(ssl, data, size, &moved); break;
    case Op::write: r = SSL_write_ex(ssl, data, size, &moved); break;
    case Op::shutdown:
      r = SSL_shutdown(ssl);
      if (r == 0) r = 1;  // ours is sent; the peer's is not waited for
      break;
  }
  return r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl, r);
}

error_code Stream::ssl_failure(int err) {
  if (tls_io_->has_held()) tls_io_->send_held();
  tls_io_->release_if_empty();
  if (err == SSL_ERROR_SYSCALL && tls_io_->write_error() != 0)
    return error_code(tls_io_->write_error(), boost::system::system_category());
  return tls_error(err);
}

Task<error_code> Stream::send_held() {
  for (;;) {
    const int r = tls_io_->send_held();
    if (r == 0) co_return error_code{};
    if (r != EAGAIN) co_return error_code(r, boost::system::system_category());
    write_waited_ = true;
    auto [ec] = co_await socket_.async_wait(Tcp::socket::wait_write, use_op);
    if (ec) co_return ec;
  }
}

Task<error_code> Stream::release_held() {
  const auto ec = co_await send_held();
  if (!ec) tls_io_->stop_holding();
  co_return ec;
}

Task<std::tuple<error_code, std::size_t>> Stream::ssl_call(Op op, void* data, std::size_t size) {
  for (;;) {
    std::size_t moved = 0;
    const int err = ssl_once(op, data, size, moved);
    if (err == SSL_ERROR_NONE) {
      // A write or close_notify made while holding goes out now, with what was held.
      if ((op == Op::write || op == Op::shutdown) && tls_io_->holding()) {
        const auto hec = co_await release_held();
        if (hec) co_return std::tuple{hec, std::size_t{0}};
      }
      tls_io_->release_if_empty();
      co_return std::tuple{error_code{}, moved};
    }
    if (err == SSL_ERROR_WANT_READ && tls_io_->has_held()) {
      // The client answers what is held only once it has it. During the handshake the
      // holding goes on (its last flight, the tickets, is held next); after it, it ends.
      if (op == Op::handshake) {
        const auto hec = co_await send_held();
        if (hec) co_return std::tuple{hec, std::size_t{0}};
      } else {
        const auto hec = co_await release_held();
        if (hec) co_return std::tuple{hec, std::size_t{0}};
      }
    }
    if (err == SSL_ERROR_WANT_READ) {
      // OpenSSL has taken every byte received: receive more (tried at once unless the
      // socket is known empty since its last readiness edge: net/read_ready.hpp).
      std::size_t room = 0;
      char* into = tls_io_->receive_buffer(room);
      auto [ec, n] = co_await socket_read(into, room);
      if (ec == asio::error::eof) {
        tls_io_->set_eof();  // OpenSSL tells a clean end from a truncation
        continue;
      }
      if (ec || n == 0) {
        tls_io_->release_if_empty();
        co_return std::tuple{ec ? ec : asio::error::no_buffer_space, std::size_t{0}};
      }
      tls_io_->received(n);
      continue;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
      write_waited_ = true;
      auto [ec] = co_await socket_.async_wait(Tcp::socket::wait_write, use_op);
      if (ec) co_return std::tuple{ec, std::size_t{0}};
      continue;
    }
    co_return std::tuple{ssl_failure(err), std::size_t{0}};
  }
}

Task<error_code> Stream::handshake(bool server) {
  if (server) {
    SSL_set_accept_state(ssl_.get());
    tls_io_->hold();
  } else {
    SSL_set_connect_state(ssl_.get());
  }
  auto [ec, n] = co_await ssl_call(Op::handshake, nullptr, 0);
  (void)n;
  co_return ec;
}

// Plain writes try the socket first (plain_write); TLS goes through ssl_call.
Task<std::tuple<error_code, std::size_t>> Stream::read_some(char* data, std::size_t size) {
  if (ssl_) return ssl_call(Op::read, data, size);
  return socket_read(data, size);
}

// A socket that may hold bytes is read here, at once: a read that finds bytes returns
// them without queueing an operation with the event loop, and one that finds none
// clears the read-ready flag, so Asio queues the read for the next readiness edge
// without trying again. A read that took fewer bytes than it asked for marks the socket
// drained (net/read_ready.hpp) once the stream watches for its FIN, so the next read
// waits for an edge without a system call: the client's next request, the upstream's
// next response. That mark must follow
// the read with no epoll_wait in between, or readiness reported in between would be
// lost: so never after Asio's own at-once read, whose completion is posted, but after
// ours, or after a read the reactor made on an edge, whose completion resumes this
// coroutine right away (Asio invokes an I/O handler of the context's own executor
// directly, and an awaitable's handler resumes its coroutine). That holds for the first
// operation an event completes; others on the same socket are posted. Reads and writes
// of the request path take turns on a socket, so a read is the only operation waiting;
// a write that waits meanwhile (a tunnel's other direction) turns the mark off for that
// read, and the tunnel turns it off for good (watch_fin(false)).
bool Stream::read_now(char* data, std::size_t size, error_code& ec, std::size_t& n) {
  n = 0;
  ec = {};
  if (size == 0) return true;
  bool* ready = read_ready_flag(socket_);
  if (ready == nullptr || !*ready) return false;
  const ssize_t got = ::recv(socket_.native_handle(), data, size, MSG_DONTWAIT);
  if (got > 0) {
    if (watch_fin_ && static_cast<std::size_t>(got) < size) mark_drained(socket_);
    n = static_cast<std::size_t>(got);
    return true;
  }
  if (got == 0) {
    ec = asio::error::eof;
    return true;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    *ready = false;
  } else if (errno != EINTR) {
    ec = error_code(errno, boost::system::system_category());
    return true;
  }
  return false;
}

void Stream::read_waited(const error_code& ec, std::size_t n, std::size_t size) {
  if (watch_fin_ && !write_waited_ && !ec && n < size) mark_drained(socket_);
}

Task<std::tuple<error_code, std::size_t>> Stream::socket_read(char* data, std::size_t size) {
  error_code ec;
  std::size_t n = 0;
  if (read_now(data, size, ec, n)) co_return std::tuple{ec, n};
  // A write that waited meanwhile may have been completed first by the same readiness
  // event, this read's completion then posted behind the next epoll_wait: no mark then.
  std::tie(ec, n) = co_await read_wait(data, size);
  read_waited(ec, n, size);
  co_return std::tuple{ec, n};
}

Task<std::tuple<error_code, std::size_t>> Stream::write(
    std::span<const asio::const_buffer> buffers) {
  if (!ssl_) return plain_write(buffers);
  return tls_write(buffers);
}

// A socket with room takes a head or a small answer whole in one sendmsg: done here,
// without queueing an operation with the event loop (Asio's composed write costs
// hundreds of instructions and a trip through the scheduler even when the first send
// moves everything). What the socket does not take goes out through async_write.
bool Stream::try_write(std::span<const asio::const_buffer> buffers, std::size_t& done,
                       error_code& ec) {
  done = 0;
  ec = {};
  if (ssl_ || buffers.size() > kWriteParts) return false;
  iovec iov[kWriteParts];
  std::size_t total = 0, count = 0;
  for (const auto& b : buffers) {
    if (b.size() == 0) continue;
    iov[count].iov_base = const_cast<void*>(b.data());
    iov[count].iov_len = b.size();
    total += b.size();
    ++count;
  }
  if (total == 0) return true;
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
  const ssize_t sent = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
    ec = error_code(errno, boost::system::system_category());
    return true;
  }
  done = static_cast<std::size_t>(sent);
  return done == total;
}

Task<std::tuple<error_code, std::size_t>> Stream::write_rest(
    std::span<const asio::const_buffer> buffers, std::size_t done) {
  if (ssl_) return tls_write(buffers);  // try_write sent nothing of a TLS stream
  return plain_write_rest(buffers, done);
}

Task<std::tuple<error_code, std::size_t>> Stream::plain_write_rest(
    std::span<const asio::const_buffer> buffers, std::size_t done) {
  write_waited_ = true;
  if (buffers.size() > kWriteParts) {
    // Only whole writes come here (try_write takes at most kWriteParts parts).
    auto [ec, n] = co_await asio::async_write(socket_, buffers, use_op);
    co_return std::tuple{ec, n};
  }
  // The rest, from the first byte not sent.
  asio::const_buffer rest[kWriteParts];
  std::size_t n = 0, skip = done;
  for (const auto& b : buffers) {
    if (skip >= b.size()) {
      skip -= b.size();
      continue;
    }
    rest[n++] = asio::const_buffer(static_cast<const char*>(b.data()) + skip, b.size() - skip);
    skip = 0;
  }
  auto [ec, more] = co_await asio::async_write(
      socket_, std::span<const asio::const_buffer>(rest, n), use_op);
  co_return std::tuple{ec, more};
}

Task<std::tuple<error_code, std::size_t>> Stream::plain_write(
    std::span<const asio::const_buffer> buffers) {
  std::size_t done = 0;
  error_code ec;
  if (try_write(buffers, done, ec)) co_return std::tuple{ec, done};
  auto [rec, more] = co_await plain_write_rest(buffers, done);
  co_return std::tuple{rec, done + more};
}

Task<std::tuple<error_code, std::size_t>> Stream::tls_write(
    std::span<const asio::const_buffer> buffers) {
  // Each SSL_write is a record and a system call: a head and its body go out joined,
  // through this thread's staging buffer (no allocation per answer).
  thread_local std::array<char, kJoinTlsWrites> staging;
  std::size_t total = 0;
  for (const auto& b : buffers) total += b.size();
  if (last_write_ && total <= kJoinTlsWrites) tls_io_->hold();  // for the close_notify
  if (tls_io_->holding() && total > kJoinTlsWrites) {
    // Not one record: what is held goes first, then the records as they are made.
    const auto hec = co_await release_held();
    if (hec) co_return std::tuple{hec, std::size_t{0}};
  }
  asio::const_buffer joined;
  if (buffers.size() > 1 && total <= kJoinTlsWrites) {
    std::size_t off = 0;
    for (const auto& b : buffers) {
      if (b.size() == 0) continue;  // an empty body's buffer may have no address
      std::memcpy(staging.data() + off, b.data(), b.size());
      off += b.size();
    }
    joined = asio::const_buffer(staging.data(), total);
    buffers = std::span<const asio::const_buffer>(&joined, 1);
  }
  std::size_t written = 0;
  for (const auto& b : buffers) {
    if (b.size() == 0) continue;
    std::size_t n = 0;
    const int err = ssl_once(Op::write, const_cast<void*>(b.data()), b.size(), n);
    if (err == SSL_ERROR_NONE) {
      written += n;
      continue;
    }
    // (Not while holding: a held record is never refused.)
    if (err != SSL_ERROR_WANT_WRITE) co_return std::tuple{ssl_failure(err), written};
    // The socket is full: wait and retry with the same bytes (OpenSSL accepts them from
    // another address), moved off the staging buffer other connections write through.
    std::vector<char> copy;
    void* retry = const_cast<void*>(b.data());
    if (b.data() == staging.data()) {
      copy.assign(staging.data(), staging.data() + b.size());
      retry = copy.data();
    }
    auto [ec, m] = co_await ssl_call(Op::write, retry, b.size());
    written += m;
    if (ec) co_return std::tuple{ec, written};
  }
  if (tls_io_->holding() && !last_write_) {
    // The first answer after the handshake: one send with the held tickets.
    const auto hec = co_await release_held();
    if (hec) co_return std::tuple{hec, std::size_t{0}};
  }
  co_return std::tuple{error_code{}, written};
}

std::size_t Stream::try_read(char* data, std::size_t size) {
  if (ssl_) return 0;
  const ssize_t got = ::recv(socket_.native_handle(), data, size, MSG_DONTWAIT);
  return got > 0 ? static_cast<std::size_t>(got) : 0;
}

bool Stream::has_buffered_input() {
  // Decrypted bytes nobody read, a record OpenSSL has begun to take in, or bytes
  // received for it.
  return ssl_ && (SSL_pending(ssl_.get()) > 0 || SSL_has_pending(ssl_.get()) == 1 ||
                  tls_io_->buffered() > 0);
}

bool Stream::readable_now() { return has_buffered_input() || net::readable_now(socket()); }

std::int64_t Stream::unsent_bytes() {
  int queued = 0;
  if (::ioctl(socket().native_handle(), SIOCOUTQ, &queued) != 0 || queued < 0) return 0;
  return queued;
}

Task<void> Stream::send_close_notify() {
  if (!ssl_ || !SSL_is_init_finished(ssl_.get())) co_return;
  auto [ec, n] = co_await ssl_call(Op::shutdown, nullptr, 0);
  (void)ec;
  (void)n;
}

void Stream::cancel() {
  error_code ignored;
  socket().cancel(ignored);
}

void Stream::shutdown_and_close() {
  if (tls_io_ && tls_io_->has_held()) tls_io_->send_held();  // as far as the socket takes it
  error_code ignored;
  socket().shutdown(Socket::shutdown_send, ignored);
  socket().close(ignored);
}

void Stream::close() {
  if (tls_io_ && tls_io_->has_held()) tls_io_->send_held();
  error_code ignored;
  socket().close(ignored);
}

}  // namespace gatehouse::net
