// balance/: spreading an endpoint's requests over its servers (SPEC section 13) and the
// pure parts of the retry policy (eligibility, budget, backoff). No I/O, no locks.
// balancer.hpp: the one interface every load-balancing policy implements.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace gatehouse::balance {

inline constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// Which servers may take a request now, as the caller sees them (breaker admits, health
// not down, not excluded for this retry): a non-owning view of flags or of a predicate,
// so the caller decides how to compute it without an allocation.
class Availability {
 public:
  // flags[i]: server i is available; servers past the end are not.
  explicit Availability(std::span<const bool> flags) : flags_(flags) {}
  explicit Availability(const std::vector<bool>& flags) {
    obj_ = &flags;
    fn_ = [](const void* p, std::size_t i) {
      const auto& v = *static_cast<const std::vector<bool>*>(p);
      return i < v.size() && v[i];
    };
  }
  // pred(i) -> bool; `pred` must outlive this view.
  template <class Pred>
  static Availability of(const Pred& pred) {
    Availability a{std::span<const bool>{}};
    a.obj_ = &pred;
    a.fn_ = [](const void* p, std::size_t i) { return (*static_cast<const Pred*>(p))(i); };
    return a;
  }

  bool operator()(std::size_t i) const {
    return fn_ ? fn_(obj_, i) : i < flags_.size() && flags_[i];
  }

 private:
  std::span<const bool> flags_;
  const void* obj_ = nullptr;
  bool (*fn_)(const void*, std::size_t) = nullptr;
};

// What a policy is built from: one entry per server, in config order.
struct ServerSpec {
  std::uint32_t weight = 1;
  std::string identity;  // stable name of the server (hash ring points derive from it)
};

struct BalancerSpec {
  config::LoadBalancing policy = config::LoadBalancing::round_robin;
  std::vector<ServerSpec> servers;
  unsigned shards = 1;      // worker threads: pick() and begin()/end() take the index
  std::uint64_t seed = 0;   // random policy; 0 = from std::random_device
};

// The spec of an endpoint's servers (a config::Endpoint without `servers`, as built by
// hand in tests, counts as its one `url`). Identity: scheme://host:port, host lower-cased.
BalancerSpec spec_of(const config::Endpoint& ep, unsigned shards, std::uint64_t seed = 0);

// One instance per endpoint, shared by every worker thread. pick() takes the calling
// worker's index (`shard`, modulo the shard count): each worker keeps its own round
// robin position, so there is no shared write on the hot path except the in-flight
// counters. Nothing allocates after construction.
class Balancer {
 public:
  explicit Balancer(std::size_t servers);
  virtual ~Balancer() = default;
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  // The server for the next try, or kNone when none is available. `key` is the hash
  // key of the request (hash policy only; nullopt: the request has none -> round robin).
  virtual std::size_t pick(unsigned shard, const Availability& available,
                           std::optional<std::string_view> key = std::nullopt) = 0;
  // The same choice for a retry (with the tried servers left out of `available`), but
  // without advancing the rotation: a retry is not a request of the round robin
  // sequence, so the spread of requests stays exact while retries happen.
  virtual std::size_t pick_retry(unsigned shard, const Availability& available,
                                 std::optional<std::string_view> key = std::nullopt) = 0;

  std::size_t size() const { return size_; }

  // Requests in flight per server, process-wide (least_request picks by them; the stats
  // show them for every policy). Call begin() when a try to `server` starts and end()
  // when it is over, whatever its outcome.
  void begin(std::size_t server) { in_flight_[server].n.fetch_add(1, std::memory_order_relaxed); }
  void end(std::size_t server) { in_flight_[server].n.fetch_sub(1, std::memory_order_relaxed); }
  std::uint32_t in_flight(std::size_t server) const {
    return in_flight_[server].n.load(std::memory_order_relaxed);
  }

 private:
  struct alignas(64) Counter {
    std::atomic<std::uint32_t> n{0};
  };
  std::size_t size_;
  std::unique_ptr<Counter[]> in_flight_;
};

std::unique_ptr<Balancer> make_balancer(const BalancerSpec& spec);

// "round_robin" | "least_request" | "random" | "hash"
std::string_view to_string(config::LoadBalancing policy);

}  // namespace gatehouse::balance
