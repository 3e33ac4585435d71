#include "redis/pool.hpp"

#include <openssl/sha.h>

#include "net/tls_client.hpp"

namespace gatehouse::redis {

Script::Script(std::string text) : source(std::move(text)) {
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(source.data()), source.size(), md);
  static constexpr char hex[] = "0123456789abcdef";
  for (unsigned char b : md) {
    sha1.push_back(hex[b >> 4]);
    sha1.push_back(hex[b & 15]);
  }
}

Pool::Pool(net::Executor ex) : ex_(ex) {}
Pool::~Pool() = default;

void Pool::adopt(const config::Redis& cfg) {
  if (settings_ && *settings_ == cfg) return;
  settings_ = std::make_unique<config::Redis>(cfg);
  ++generation_;
  idle_.clear();
  paused_until_ = {};
  tls_.reset();
  tls_error_.clear();
  if (cfg.tls) {
    const auto& t = cfg.tls_settings;
    tls_ = net::make_client_context(t.verify, t.ca_file ? &*t.ca_file : nullptr, tls_error_);
  }
}

// A request waiting for a connection: queued in waiters_, woken by release() with a
// connection, or by discard() to open one itself, or by its deadline.
struct Pool::Waiter {
  Pool& pool;
  net::Timer timer;
  std::unique_ptr<Connection> conn;
  bool queued = true;
  Waiter(Pool& p, net::Clock::time_point deadline) : pool(p), timer(p.ex_) {
    timer.expires_at(deadline);
    pool.waiters_.push_back(this);
  }
  ~Waiter() {
    if (queued) std::erase(pool.waiters_, this);
  }
};

net::Task<Error> Pool::acquire(const config::Redis& cfg, net::Clock::time_point deadline,
                               std::unique_ptr<Connection>& out, bool& reused, std::string& why) {
  reused = true;
  for (;;) {
    while (!idle_.empty()) {
      out = std::move(idle_.back());
      idle_.pop_back();
      if (out->usable()) co_return Error::none;
      out.reset();
    }
    if (*open_ < kMaxOpen) break;
    Waiter w(*this, deadline);
    auto [ec] = co_await w.timer.async_wait(net::use_task);
    if (w.conn) {
      out = std::move(w.conn);
      co_return Error::none;
    }
    if (!ec || net::Clock::now() >= deadline) {
      why = "all " + std::to_string(kMaxOpen) + " connections of the thread busy";
      co_return Error::timeout;
    }
    // Woken without a connection: one was dropped, so there is room to open one.
  }
  if (net::Clock::now() < paused_until_) {
    why = last_connect_error_;
    co_return Error::connect;
  }
  reused = false;
  auto conn = std::make_unique<Connection>(ex_);
  conn->generation = generation_;
  conn->census = open_;
  ++*open_;
  const std::uint64_t generation = generation_;
  Error e = Error::connect;
  if (cfg.tls && !tls_) why = "TLS context: " + tls_error_;
  else e = co_await conn->open(cfg, tls_.get(), deadline, why);
  if (e != Error::none) {
    // Settings unchanged meanwhile: pause new connects for a moment.
    if (generation == generation_) {
      paused_until_ = net::Clock::now() + kReconnectPause;
      last_connect_error_ = why;
    }
    discard(conn);
    co_return e;
  }
  out = std::move(conn);
  co_return Error::none;
}

void Pool::wake_one() {
  if (waiters_.empty()) return;
  Waiter* w = waiters_.front();
  waiters_.pop_front();
  w->queued = false;
  w->timer.cancel();
}

void Pool::discard(std::unique_ptr<Connection>& conn) {
  conn.reset();
  wake_one();
}

void Pool::release(std::unique_ptr<Connection> conn) {
  if (!conn->usable() || conn->generation != generation_) {
    discard(conn);
    return;
  }
  if (!waiters_.empty()) {
    Waiter* w = waiters_.front();
    w->conn = std::move(conn);
    wake_one();
    return;
  }
  if (idle_.size() < kMaxOpen) idle_.push_back(std::move(conn));
}

net::Task<Error> Pool::run(const config::Redis& cfg, const Script& script,
                           std::span<const std::string_view> keys_and_args,
                           std::size_t key_count, Reply& reply, std::string& why) {
  adopt(cfg);
  const auto deadline = net::Clock::now() + cfg.timeout;
  std::unique_ptr<Connection> conn;
  // Taken idle or handed over by another request: it may be a connection the server
  // closed meanwhile.
  bool reused = false;
  Error e = co_await acquire(cfg, deadline, conn, reused, why);
  if (e != Error::none) co_return e;

  const std::string count = std::to_string(key_count);
  std::vector<std::string_view> args;
  args.reserve(keys_and_args.size() + 3);
  args.push_back("EVALSHA");
  args.push_back(script.sha1);
  args.push_back(count);
  args.insert(args.end(), keys_and_args.begin(), keys_and_args.end());
  e = co_await conn->call(args, reply, deadline);
  if (e == Error::connect && reused) {
    // A pooled connection the server closed meanwhile (a Redis restart): one fresh try.
    idle_.clear();
    discard(conn);
    e = co_await acquire(cfg, deadline, conn, reused, why);
    if (e != Error::none) co_return e;
    e = co_await conn->call(args, reply, deadline);
  }
  if (e == Error::none && reply.type == Reply::Type::error && reply.text.rfind("NOSCRIPT", 0) == 0) {
    args[0] = "EVAL";
    args[1] = script.source;
    e = co_await conn->call(args, reply, deadline);
  }
  if (e == Error::none && reply.type == Reply::Type::error) {
    why = "error reply: " + reply.text.substr(0, 120);
    e = Error::protocol;
  } else if (e == Error::timeout) {
    why = "no answer within redis.timeout";
  } else if (e != Error::none) {
    why = "connection lost";
  }
  if (e == Error::none) release(std::move(conn));
  else discard(conn);
  co_return e;
}

}  // namespace gatehouse::redis
