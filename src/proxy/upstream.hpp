// proxy/: upstream connections and the per-thread keep-alive pool.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/connect.hpp"
#include "net/frame_pool.hpp"
#include "net/io.hpp"
#include "net/stream.hpp"
#include "registry/snapshot.hpp"

namespace gatehouse::proxy {

using net::Clock;
using net::ConnectError;
using net::error_code;
using net::Executor;
using net::Socket;
using net::Task;
using net::TlsStream;
namespace asio = boost::asio;

// One connection to an upstream, plain or TLS, and the pool's bookkeeping of it.
class UpstreamConn {
 public:
  explicit UpstreamConn(Executor ex) : stream_(ex) {}
  // Over a socket connected elsewhere (the pipeline's tests: one end of a socket pair).
  explicit UpstreamConn(Socket socket) : stream_(std::move(socket)) {}
  UpstreamConn(const UpstreamConn&) = delete;
  UpstreamConn& operator=(const UpstreamConn&) = delete;

  net::Stream& stream() { return stream_; }
  Socket& socket() { return stream_.socket(); }

  std::string key;                 // pool key
  std::size_t key_hash = 0;        // its std::hash (registry::UpstreamServer::pool_hash)
  Clock::time_point idle_since{};

  // True when bytes (or EOF, or an error) are waiting that no exchange asked for: in the
  // socket, or already read into the TLS layer. Such a connection is out of step with
  // its upstream and is never reused.
  bool has_unexpected_input() { return stream_.readable_now(); }

 private:
  net::Stream stream_;
};

// Where the request path gets its upstream connections: the per-thread pool in the
// gateway, a scripted fake in the pipeline's tests. One call per request, not per byte.
class UpstreamConnector {
 public:
  virtual ~UpstreamConnector() = default;
  // An idle connection to `server`, or null.
  virtual std::unique_ptr<UpstreamConn> acquire(const registry::UpstreamServer& server) = 0;
  // Opens a new connection (resolve, connect, the TLS handshake for https upstreams)
  // within `deadline`.
  virtual Task<std::tuple<ConnectError, std::unique_ptr<UpstreamConn>>> connect(
      const registry::UpstreamServer& server, const config::Endpoint& endpoint,
      Clock::time_point deadline) = 0;
  // Keeps `conn` for reuse unless it already holds unexpected input.
  virtual void release(std::unique_ptr<UpstreamConn> conn) = 0;
};

// Per-thread pool: idle connections by key, most recently used first out (LIFO keeps
// the hottest connections in use and lets the others age out). acquire() looks at a
// connection before handing it out: anything an upstream sent on it while idle, or its
// EOF, closes it, so no request ever reads bytes meant for, or left over from, another
// exchange. sweep() closes such connections, and old ones, between requests.
//
// No readability wait is kept on idle connections: with Asio's reactor every such wait
// costs an epoll_ctl (it re-arms the descriptor), once per request at full load, where
// the once-a-second sweep costs one recv per idle connection.
class UpstreamPool final : public UpstreamConnector {
 public:
  explicit UpstreamPool(Executor ex) : ex_(ex) {}

  std::unique_ptr<UpstreamConn> acquire(const registry::UpstreamServer& server) override;
  void release(std::unique_ptr<UpstreamConn> conn) override;
  Task<std::tuple<ConnectError, std::unique_ptr<UpstreamConn>>> connect(
      const registry::UpstreamServer& server, const config::Endpoint& endpoint,
      Clock::time_point deadline) override;

  void close_all();
  // Closes idle connections that are readable (bytes, EOF or an error: the upstream
  // closed it or is out of step) or idle for kMaxIdleTime. Called about once a second.
  void sweep(Clock::time_point now);
  std::size_t idle_count() const;
  // Closes idle connections whose key is not in `keys` (after a reload).
  template <class Set>
  void retain_only(const Set& keys) {
    for (auto it = idle_.begin(); it != idle_.end();) {
      if (keys.count(it->first)) {
        ++it;
        continue;
      }
      for (auto& conn : it->second) {
        error_code ignored;
        conn->socket().close(ignored);
      }
      it = idle_.erase(it);
    }
  }

  // Per thread and upstream; as many as a busy thread has requests in flight, so a
  // steady load never closes and reopens upstream connections.
  static constexpr std::size_t kMaxIdlePerKey = 1024;
  static constexpr std::chrono::seconds kMaxIdleTime{30};

 private:
  // Looked up per request with the hash the snapshot worked out (no hashing of the key).
  struct Key {
    std::string_view text;
    std::size_t hash;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(const std::string& s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
    std::size_t operator()(const Key& k) const noexcept { return k.hash; }
  };
  struct KeyEq {
    using is_transparent = void;
    bool operator()(const std::string& a, const std::string& b) const noexcept { return a == b; }
    bool operator()(const Key& a, const std::string& b) const noexcept { return a.text == b; }
    bool operator()(const std::string& a, const Key& b) const noexcept { return a == b.text; }
  };
  using Stack = std::vector<std::unique_ptr<UpstreamConn>>;

  Executor ex_;
  std::unordered_map<std::string, Stack, KeyHash, KeyEq> idle_;
};

}  // namespace gatehouse::proxy
