#include "proxy/upstream.hpp"

#include "net/readable.hpp"

#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>

namespace gatehouse::proxy {

using namespace net;  // this file is the pool's I/O: the Asio aliases throughout

static_assert(std::is_same_v<std::coroutine_traits<Task<std::tuple<error_code, std::size_t>>,
                                                   UpstreamConn&,
                                                   std::span<const asio::const_buffer>>::promise_type,
                             PooledFrame<std::tuple<error_code, std::size_t>>>,
              "UpstreamConn's coroutines take their frames from the pool");

Task<std::tuple<error_code, std::size_t>> UpstreamConn::read_some(char* data, std::size_t size) {
  if (tls_) {
    auto [ec, n] = co_await tls_->async_read_some(asio::buffer(data, size), use_task);
    co_return std::tuple{ec, n};
  }
  auto [ec, n] = co_await socket_.async_read_some(asio::buffer(data, size), use_task);
  co_return std::tuple{ec, n};
}

Task<std::tuple<error_code, std::size_t>> UpstreamConn::write(
    std::span<const asio::const_buffer> buffers) {
  if (tls_) {
    auto [ec, n] = co_await asio::async_write(*tls_, buffers, use_task);
    co_return std::tuple{ec, n};
  }
  auto [ec, n] = co_await asio::async_write(socket_, buffers, use_task);
  co_return std::tuple{ec, n};
}

std::size_t UpstreamConn::try_read(char* data, std::size_t size) {
  if (tls_) return 0;
  const ssize_t got = ::recv(socket_.native_handle(), data, size, MSG_DONTWAIT);
  return got > 0 ? static_cast<std::size_t>(got) : 0;
}

bool UpstreamConn::has_buffered_input() {
  if (!tls_) return false;
  // Decrypted bytes nobody read, or raw bytes the TLS layer took in and did not process.
  SSL* ssl = tls_->native_handle();
  if (SSL_pending(ssl) > 0) return true;
  BIO* rbio = SSL_get_rbio(ssl);
  return rbio && BIO_pending(rbio) > 0;
}

bool UpstreamConn::has_unexpected_input() {
  return has_buffered_input() || net::readable_now(socket());
}

void UpstreamPool::watch(UpstreamConn& conn) {
  const std::uint64_t generation = ++conn.watch_->generation;
  conn.socket().async_wait(Socket::wait_read,
                           [this, token = conn.watch_, generation](const error_code& ec) {
                             // Cancelled by acquire(), or the connection is gone.
                             if (ec || !token->conn || token->generation != generation)
                               return;
                             // Bytes, EOF or an error on a connection nobody asked for.
                             drop_idle(token->conn);
                           });
}

void UpstreamPool::drop_idle(UpstreamConn* conn) {
  auto it = idle_.find(conn->key);
  if (it == idle_.end()) return;
  auto& stack = it->second;
  for (auto c = stack.begin(); c != stack.end(); ++c) {
    if (c->get() != conn) continue;
    error_code ignored;
    conn->socket().close(ignored);
    stack.erase(c);  // destroys it
    break;
  }
}

std::unique_ptr<UpstreamConn> UpstreamPool::acquire(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& stack = it->second;
  const auto now = Clock::now();
  while (!stack.empty()) {
    auto conn = std::move(stack.back());
    stack.pop_back();
    ++conn->watch_->generation;  // a wait of the idle spell that ends here is stale now
    error_code ignored;
    conn->socket().cancel(ignored);  // ends the readability wait
    // Too old (the upstream may be about to close it), or readable while idle: bytes
    // that arrived since the last look of the event loop are caught here.
    if (now - conn->idle_since < kMaxIdleTime && !conn->has_unexpected_input()) return conn;
    conn->socket().close(ignored);
  }
  return nullptr;
}

void UpstreamPool::release(std::unique_ptr<UpstreamConn> conn) {
  // Bytes already in the socket are found by acquire(); here only what the TLS layer
  // holds, which no readability wait would report.
  if (conn->has_buffered_input()) return;  // closed as it goes out of scope
  auto& stack = idle_[conn->key];
  if (stack.size() >= kMaxIdlePerKey) {
    error_code ignored;
    stack.front()->socket().close(ignored);
    stack.erase(stack.begin());
  }
  conn->idle_since = Clock::now();
  watch(*conn);
  stack.push_back(std::move(conn));
}

void UpstreamPool::close_all() {
  for (auto& [key, stack] : idle_)
    for (auto& conn : stack) {
      error_code ignored;
      conn->socket().close(ignored);
    }
  idle_.clear();
}

Task<std::tuple<ConnectError, std::unique_ptr<UpstreamConn>>> UpstreamPool::connect(
    const registry::EndpointRuntime& ep, Clock::time_point deadline) {
  const auto& url = ep.config->url;
  auto conn = std::make_unique<UpstreamConn>(ex_);
  conn->key = ep.pool_key;
  Resolver resolver(ex_);
  const auto err = co_await net::connect(resolver, conn->socket_, url.host, url.port, deadline);
  if (err != ConnectError::none) co_return std::tuple{err, nullptr};
  if (ep.tls) {
    conn->tls_ = std::make_unique<TlsStream>(std::move(conn->socket_), *ep.tls);
    const std::string& sni = ep.config->tls.server_name ? *ep.config->tls.server_name : url.host;
    const auto herr = co_await net::handshake(*conn->tls_, sni, ep.config->tls.verify, deadline);
    if (herr != ConnectError::none) co_return std::tuple{herr, nullptr};
  }
  co_return std::tuple{ConnectError::none, std::move(conn)};
}

}  // namespace gatehouse::proxy
