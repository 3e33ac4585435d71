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

// One connection to an upstream, plain or TLS.
class UpstreamConn {
 public:
  explicit UpstreamConn(Executor ex) : socket_(ex), watch_(std::make_shared<IdleWatch>()) {
    watch_->conn = this;
  }
  ~UpstreamConn() { watch_->conn = nullptr; }
  UpstreamConn(const UpstreamConn&) = delete;
  UpstreamConn& operator=(const UpstreamConn&) = delete;

  Socket& socket() { return tls_ ? tls_->next_layer() : socket_; }
  bool is_tls() const { return tls_ != nullptr; }

  // Reads some bytes into `data`; returns the count (0 with an error).
  Task<std::tuple<error_code, std::size_t>> read_some(char* data, std::size_t size);
  // What a plain connection already holds, without waiting (0 for TLS, or when nothing
  // has arrived, or on EOF or an error: the next read_some meets those).
  std::size_t try_read(char* data, std::size_t size);
  // Writes everything; returns the bytes written before an error too.
  Task<std::tuple<error_code, std::size_t>> write(std::span<const asio::const_buffer> buffers);

  std::string key;                 // pool key
  Clock::time_point idle_since{};

  // True when bytes (or EOF, or an error) are waiting that no exchange asked for: in the
  // socket, or already read into the TLS layer. Such a connection is out of step with
  // its upstream and is never reused.
  bool has_unexpected_input();
  // The part of that check that needs no system call: bytes inside the TLS layer.
  bool has_buffered_input();

 private:
  friend class UpstreamPool;
  // What a pending readability wait on an idle connection refers to. It outlives the
  // connection when the wait is still queued after the connection is gone.
  struct IdleWatch {
    UpstreamConn* conn = nullptr;
    std::uint64_t generation = 0;  // bumped on every release and acquire
  };
  Socket socket_;
  std::unique_ptr<TlsStream> tls_;
  std::shared_ptr<IdleWatch> watch_;
};

}  // namespace gatehouse::proxy

// Reads and writes on the request path: their frames come from the per-thread pool.
template <>
inline constexpr bool gatehouse::net::pooled_coroutines<gatehouse::proxy::UpstreamConn> = true;

namespace gatehouse::proxy {

// Per-thread pool: idle connections by key, most recently used first out (LIFO keeps
// the hottest connections in use and lets the others age out). An idle connection is
// watched for readability (as nginx's keepalive module does): anything an upstream
// sends on it, or its EOF, closes it; acquire() looks once more before handing it out,
// so no request ever reads bytes meant for, or left over from, another exchange.
class UpstreamPool {
 public:
  explicit UpstreamPool(Executor ex) : ex_(ex) {}

  std::unique_ptr<UpstreamConn> acquire(const std::string& key);
  // Keeps `conn` for reuse unless it already holds unexpected input.
  void release(std::unique_ptr<UpstreamConn> conn);

  // Opens a new connection (net::connect, then the TLS handshake for https upstreams)
  // within `deadline`.
  Task<std::tuple<ConnectError, std::unique_ptr<UpstreamConn>>> connect(
      const registry::EndpointRuntime& ep, Clock::time_point deadline);

  void close_all();
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
  void watch(UpstreamConn& conn);
  void drop_idle(UpstreamConn* conn);  // closes and forgets one idle connection
  Executor ex_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<UpstreamConn>>> idle_;
};

}  // namespace gatehouse::proxy
