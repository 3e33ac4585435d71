#include "proxy/upstream.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>

#include "proxy/deadline.hpp"

namespace gatehouse::net {

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

bool UpstreamConn::has_buffered_input() {
  if (!tls_) return false;
  // Decrypted bytes nobody read, or raw bytes the TLS layer took in and did not process.
  SSL* ssl = tls_->native_handle();
  if (SSL_pending(ssl) > 0) return true;
  BIO* rbio = SSL_get_rbio(ssl);
  return rbio && BIO_pending(rbio) > 0;
}

bool UpstreamConn::has_unexpected_input() {
  if (has_buffered_input()) return true;
  char byte;
  const ssize_t r = ::recv(socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r >= 0) return true;  // data, or EOF (0)
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;  // a reset, say
}

void UpstreamPool::watch(UpstreamConn& conn) {
  auto& w = *conn.watch_;
  w.idle = true;
  const std::uint64_t generation = ++w.generation;
  conn.socket().async_wait(Socket::wait_read,
                           [this, token = conn.watch_, generation](const error_code& ec) {
                             // Cancelled by acquire(), or the connection is gone.
                             if (ec || !token->conn || !token->idle ||
                                 token->generation != generation)
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
    auto& w = *conn->watch_;
    w.idle = false;
    ++w.generation;
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

  std::vector<Tcp::endpoint> targets;
  error_code ec;
  const auto addr = asio::ip::make_address(url.host, ec);
  if (!ec) {
    targets.emplace_back(addr, url.port);
  } else {
    Resolver resolver(ex_);
    auto [rec, results] =
        co_await resolver.async_resolve(url.host, std::to_string(url.port), use_task);
    if (rec) co_return std::tuple{ConnectError::resolve, nullptr};
    for (const auto& r : results) targets.push_back(r.endpoint());
  }

  auto guard = std::make_shared<Deadline>(ex_);
  error_code cec = asio::error::host_unreachable;
  for (const auto& target : targets) {
    error_code ignored;
    conn->socket_.close(ignored);
    guard->arm(deadline, &conn->socket_);
    // open() first so the deadline can cancel the connect itself.
    conn->socket_.open(target.protocol(), ignored);
    auto [e] = co_await conn->socket_.async_connect(target, use_task);
    cec = e;
    if (!cec) break;
    if (guard->fired()) break;
  }
  const bool timed_out = guard->fired();
  guard->stop();
  if (cec) co_return std::tuple{timed_out ? ConnectError::timeout : ConnectError::refused, nullptr};
  conn->socket_.set_option(Tcp::no_delay(true), ec);

  if (ep.tls) {
    conn->tls_ = std::make_unique<TlsStream>(std::move(conn->socket_), *ep.tls);
    SSL* ssl = conn->tls_->native_handle();
    const std::string& sni = ep.config->tls.server_name ? *ep.config->tls.server_name : url.host;
    if (asio::ip::make_address(sni, ec), ec) SSL_set_tlsext_host_name(ssl, sni.c_str());
    if (ep.config->tls.verify) {
      SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (asio::ip::make_address(sni, ec), !ec) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), sni.c_str());
      else SSL_set1_host(ssl, sni.c_str());
    }
    auto tguard = std::make_shared<Deadline>(ex_);
    tguard->arm(deadline, &conn->tls_->next_layer());
    auto [hec] = co_await conn->tls_->async_handshake(asio::ssl::stream_base::client, use_task);
    const bool tls_timeout = tguard->fired();
    tguard->stop();
    if (hec) co_return std::tuple{tls_timeout ? ConnectError::timeout : ConnectError::tls, nullptr};
  }
  co_return std::tuple{ConnectError::none, std::move(conn)};
}

}  // namespace gatehouse::net
