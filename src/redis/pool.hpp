// redis/: one worker thread's Redis connections: reused one command at a time (no
// locks: only this thread touches them), at most kMaxOpen open at once (a request finding
// them all busy waits for one, within redis.timeout), reopened when the settings change on
// a reload, and not retried for a moment after a failed connect, so an unreachable Redis
// costs a request no more than a clock read.
#pragma once

#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "redis/connection.hpp"

namespace gatehouse::redis {


// A Lua script and its SHA-1, for EVALSHA.
struct Script {
  std::string source;
  std::string sha1;  // lower-case hex
  explicit Script(std::string text);
};

class Pool {
 public:
  // Per thread. A connection carries one command at a time, so this bounds the Redis
  // calls in flight per thread; requests beyond it queue here instead of opening a
  // connection each (which cost a TCP handshake per call and flooded Redis with
  // short-lived clients). Idle connections are kept up to the same number.
  static constexpr std::size_t kMaxOpen = 64;
  static constexpr auto kReconnectPause = std::chrono::milliseconds(200);

  explicit Pool(net::Executor ex);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // EVALSHA, and EVAL when the server does not know the script yet (NOSCRIPT), within
  // `cfg.timeout` in all (connect included). An error reply other than NOSCRIPT is a
  // protocol error. `why` receives a short reason for the log.
  net::Task<Error> run(const config::Redis& cfg, const Script& script,
                       std::span<const std::string_view> keys_and_args, std::size_t key_count,
                       Reply& reply, std::string& why);

  std::size_t idle() const { return idle_.size(); }
  std::size_t open() const { return *open_; }
  std::size_t waiting() const { return waiters_.size(); }

 private:
  struct Waiter;
  void adopt(const config::Redis& cfg);
  // `reused`: the connection was open before (idle, or handed over by a request done with
  // it), not opened by this call.
  net::Task<Error> acquire(const config::Redis& cfg, net::Clock::time_point deadline,
                           std::unique_ptr<Connection>& out, bool& reused, std::string& why);
  void release(std::unique_ptr<Connection> conn);
  // Drops a connection (it counts as open until destroyed) and lets a waiter open one.
  void discard(std::unique_ptr<Connection>& conn);
  void wake_one();

  net::Executor ex_;
  std::unique_ptr<config::Redis> settings_;  // what the connections were opened with
  std::uint64_t generation_ = 0;
  std::shared_ptr<asio::ssl::context> tls_;
  std::string tls_error_;
  std::vector<std::unique_ptr<Connection>> idle_;
  // Open connections, idle or in use. Shared with each connection, which decrements it
  // when destroyed, so the count stays right whichever coroutine drops it.
  std::shared_ptr<std::size_t> open_ = std::make_shared<std::size_t>(0);
  std::deque<Waiter*> waiters_;  // oldest first
  net::Clock::time_point paused_until_{};
  std::string last_connect_error_;
};

}  // namespace gatehouse::redis
