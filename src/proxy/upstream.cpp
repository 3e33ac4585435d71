#include "proxy/upstream.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>

#include "proxy/deadline.hpp"

namespace gatehouse::net {

static_assert(std::is_same_v<std::coroutine_traits<Task<error_code>, UpstreamConn&,
                                                   std::span<const asio::const_buffer>>::promise_type,
                             PooledFrame<error_code>>,
              "UpstreamConn's coroutines take their frames from the pool");

Task<std::tuple<error_code, std::size_t>> UpstreamConn::read_some(char* data, std::size_t size) {
  if (tls_) {
    auto [ec, n] = co_await tls_->async_read_some(asio::buffer(data, size), use_task);
    co_return std::tuple{ec, n};
  }
  auto [ec, n] = co_await socket_.async_read_some(asio::buffer(data, size), use_task);
  co_return std::tuple{ec, n};
}

Task<error_code> UpstreamConn::write(std::span<const asio::const_buffer> buffers) {
  if (tls_) {
    auto [ec, n] = co_await asio::async_write(*tls_, buffers, use_task);
    co_return ec;
  }
  auto [ec, n] = co_await asio::async_write(socket_, buffers, use_task);
  co_return ec;
}

std::unique_ptr<UpstreamConn> UpstreamPool::acquire(const std::string& key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  auto& stack = it->second;
  const auto now = Clock::now();
  while (!stack.empty()) {
    auto conn = std::move(stack.back());
    stack.pop_back();
    if (now - conn->idle_since < kMaxIdleTime) return conn;
    error_code ignored;
    conn->socket().close(ignored);  // too old: the upstream may be about to close it
  }
  return nullptr;
}

void UpstreamPool::release(std::unique_ptr<UpstreamConn> conn) {
  auto& stack = idle_[conn->key];
  if (stack.size() >= kMaxIdlePerKey) {
    error_code ignored;
    stack.front()->socket().close(ignored);
    stack.erase(stack.begin());
  }
  conn->idle_since = Clock::now();
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
