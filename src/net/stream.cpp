#include "net/stream.hpp"

#include <boost/asio/write.hpp>
#include <cstring>
#include <vector>
#include <linux/sockios.h>
#include <openssl/ssl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "net/readable.hpp"

namespace gatehouse::net {

namespace {
// One TLS record's payload at most.
constexpr std::size_t kJoinTlsWrites = 16 * 1024;
}  // namespace

static_assert(std::is_same_v<std::coroutine_traits<Task<std::tuple<error_code, std::size_t>>,
                                                   Stream&, char*, std::size_t>::promise_type,
                             PooledFrame<std::tuple<error_code, std::size_t>>>,
              "Stream's coroutines take their frames from the pool");

TlsStream& Stream::start_tls(asio::ssl::context& ctx) {
  tls_ = std::make_unique<TlsStream>(std::move(socket_), ctx);
  return *tls_;
}

Task<std::tuple<error_code, std::size_t>> Stream::read_some(char* data, std::size_t size) {
  if (tls_) {
    auto [ec, n] = co_await tls_->async_read_some(asio::buffer(data, size), use_task);
    co_return std::tuple{ec, n};
  }
  auto [ec, n] = co_await socket_.async_read_some(asio::buffer(data, size), use_task);
  co_return std::tuple{ec, n};
}

Task<std::tuple<error_code, std::size_t>> Stream::write(
    std::span<const asio::const_buffer> buffers) {
  if (tls_) {
    // The TLS stream writes one buffer at a time: a head and its body would be two
    // records and two system calls. Small pieces go out joined, as one record.
    std::size_t total = 0;
    for (const auto& b : buffers) total += b.size();
    if (buffers.size() > 1 && total <= kJoinTlsWrites) {
      std::vector<char> joined(total);
      std::size_t off = 0;
      for (const auto& b : buffers) {
        std::memcpy(joined.data() + off, b.data(), b.size());
        off += b.size();
      }
      auto [ec, n] = co_await asio::async_write(*tls_, asio::buffer(joined), use_task);
      co_return std::tuple{ec, n};
    }
    auto [ec, n] = co_await asio::async_write(*tls_, buffers, use_task);
    co_return std::tuple{ec, n};
  }
  auto [ec, n] = co_await asio::async_write(socket_, buffers, use_task);
  co_return std::tuple{ec, n};
}

std::size_t Stream::try_read(char* data, std::size_t size) {
  if (tls_) return 0;
  const ssize_t got = ::recv(socket_.native_handle(), data, size, MSG_DONTWAIT);
  return got > 0 ? static_cast<std::size_t>(got) : 0;
}

bool Stream::has_buffered_input() {
  if (!tls_) return false;
  // Decrypted bytes nobody read, or raw bytes the TLS layer took in and did not process.
  SSL* ssl = tls_->native_handle();
  if (SSL_pending(ssl) > 0) return true;
  BIO* rbio = SSL_get_rbio(ssl);
  return rbio && BIO_pending(rbio) > 0;
}

bool Stream::readable_now() { return has_buffered_input() || net::readable_now(socket()); }

std::int64_t Stream::unsent_bytes() {
  int queued = 0;
  if (::ioctl(socket().native_handle(), SIOCOUTQ, &queued) != 0 || queued < 0) return 0;
  return queued;
}

Task<void> Stream::send_close_notify() {
  if (!tls_) co_return;
  // As if the peer's close_notify had arrived: SSL_shutdown writes ours and is done,
  // instead of reading on until the client answers.
  SSL_set_shutdown(tls_->native_handle(), SSL_RECEIVED_SHUTDOWN);
  auto [ec] = co_await tls_->async_shutdown(use_task);
  (void)ec;
}

void Stream::cancel() {
  error_code ignored;
  socket().cancel(ignored);
}

void Stream::shutdown_and_close() {
  error_code ignored;
  socket().shutdown(Socket::shutdown_send, ignored);
  socket().close(ignored);
}

void Stream::close() {
  error_code ignored;
  socket().close(ignored);
}

}  // namespace gatehouse::net
