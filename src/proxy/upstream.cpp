#include "proxy/upstream.hpp"

namespace gatehouse::proxy {

void UpstreamPool::watch(UpstreamConn& conn) {
  const std::uint64_t generation = ++conn.watch_->generation;
  conn.socket().async_wait(Socket::wait_read,
                           [this, token = conn.watch_, generation](const error_code& ec) {
                             // Cancelled by acquire(), or the connection is gone.
                             if (ec || !token->conn || token->generation != generation)
                               return;
                             // An edge can be stale: the bytes it announced were taken
                             // by the exchange that just ended (a splice reads without
                             // waiting), its event delivered only now. Watched again
                             // when nothing is there.
                             if (!token->conn->has_unexpected_input()) {
                               watch(*token->conn);
                               return;
                             }
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

std::unique_ptr<UpstreamConn> UpstreamPool::acquire(const registry::UpstreamServer& server) {
  auto it = idle_.find(server.pool_key);
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
  if (conn->stream().has_buffered_input()) return;  // closed as it goes out of scope
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
    const registry::UpstreamServer& server, const config::Endpoint& endpoint,
    Clock::time_point deadline) {
  const auto& url = *server.url;
  auto conn = std::make_unique<UpstreamConn>(ex_);
  conn->key = server.pool_key;
  net::Resolver resolver(ex_);
  const auto err = co_await net::connect(resolver, conn->socket(), url.host, url.port, deadline);
  if (err != ConnectError::none) co_return std::tuple{err, nullptr};
  if (server.tls) {
    if (!conn->stream().start_tls(*server.tls)) co_return std::tuple{ConnectError::tls, nullptr};
    const std::string& sni = endpoint.tls.server_name ? *endpoint.tls.server_name : url.host;
    const auto herr = co_await net::handshake(conn->stream(), sni, endpoint.tls.verify, deadline);
    if (herr != ConnectError::none) co_return std::tuple{herr, nullptr};
  }
  co_return std::tuple{ConnectError::none, std::move(conn)};
}

}  // namespace gatehouse::proxy
