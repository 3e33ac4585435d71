#include "proxy/upstream.hpp"

namespace gatehouse::proxy {

namespace {
// Young enough (the upstream may be about to close an old one) and nothing readable on
// it: no bytes nobody asked for, no EOF, no error.
bool still_good(UpstreamConn& conn, Clock::time_point now) {
  return now - conn.idle_since < UpstreamPool::kMaxIdleTime && !conn.has_unexpected_input();
}
}  // namespace

void UpstreamPool::sweep(Clock::time_point now) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& stack = it->second;
    std::erase_if(stack, [now](std::unique_ptr<UpstreamConn>& conn) {
      if (still_good(*conn, now)) return false;
      error_code ignored;
      conn->socket().close(ignored);
      return true;
    });
    it = stack.empty() ? idle_.erase(it) : std::next(it);
  }
}

std::size_t UpstreamPool::idle_count() const {
  std::size_t n = 0;
  for (const auto& [key, stack] : idle_) n += stack.size();
  return n;
}

std::unique_ptr<UpstreamConn> UpstreamPool::acquire(const registry::UpstreamServer& server) {
  auto it = idle_.find(Key{server.pool_key, server.pool_hash});
  if (it == idle_.end()) return nullptr;
  auto& stack = it->second;
  const auto now = Clock::now();
  while (!stack.empty()) {
    auto conn = std::move(stack.back());
    stack.pop_back();
    // Bytes or EOF that arrived since the last sweep are caught here.
    if (still_good(*conn, now)) return conn;
    error_code ignored;
    conn->socket().close(ignored);
  }
  return nullptr;
}

void UpstreamPool::release(std::unique_ptr<UpstreamConn> conn) {
  // Bytes already in the socket are found by acquire() and sweep(); here only what the
  // TLS layer already holds.
  if (conn->stream().has_buffered_input()) return;  // closed as it goes out of scope
  auto it = idle_.find(Key{conn->key, conn->key_hash});
  if (it == idle_.end()) it = idle_.emplace(conn->key, Stack{}).first;
  auto& stack = it->second;
  if (stack.size() >= kMaxIdlePerKey) {
    error_code ignored;
    stack.front()->socket().close(ignored);
    stack.erase(stack.begin());
  }
  conn->idle_since = Clock::now();
  conn->stream().watch_fin();  // kept for reuse: its reads may mark it drained
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
  conn->key_hash = server.pool_hash;
  net::Resolver resolver(ex_);
  const auto err = co_await net::connect(resolver, conn->socket(), url.host, url.port, deadline);
  if (err != ConnectError::none) co_return std::tuple{err, nullptr};
  if (server.tls) {
    if (!conn->stream().start_tls(*server.tls)) co_return std::tuple{ConnectError::tls, nullptr};
    const std::string& sni = endpoint.tls->server_name ? *endpoint.tls->server_name : url.host;
    const auto herr = co_await net::handshake(conn->stream(), sni, endpoint.tls->verify, deadline);
    if (herr != ConnectError::none) co_return std::tuple{herr, nullptr};
  }
  co_return std::tuple{ConnectError::none, std::move(conn)};
}

}  // namespace gatehouse::proxy
