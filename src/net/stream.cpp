#include "net/stream.hpp"

#include <boost/asio/write.hpp>
#include <linux/sockios.h>
#include <openssl/ssl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "net/readable.hpp"

namespace gatehouse::net {

TlsStream& Stream::start_tls(asio::ssl::context& ctx) {
  tls_ = std::make_unique<TlsStream>(std::move(socket_), ctx);
  return *tls_;
}

// Not coroutines: each returns Asio's own awaitable for the operation (the same type for
// the plain and the TLS stream), so a read or write costs no frame of ours.
Task<std::tuple<error_code, std::size_t>> Stream::read_some(char* data, std::size_t size) {
  if (tls_) return tls_->async_read_some(asio::buffer(data, size), use_task);
  return socket_.async_read_some(asio::buffer(data, size), use_task);
}

Task<std::tuple<error_code, std::size_t>> Stream::write(
    std::span<const asio::const_buffer> buffers) {
  if (tls_) return asio::async_write(*tls_, buffers, use_task);
  return asio::async_write(socket_, buffers, use_task);
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
