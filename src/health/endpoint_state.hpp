// health/: everything the request path, the health checker, the stats API and the
// metrics need about one upstream server of an endpoint (an endpoint with one `url` has
// one), in one place, shared by all threads: its breaker, health, counters. What belongs
// to the endpoint as a whole (its request counters, latency, the `cached` fallback's
// store) is in endpoint_stats.hpp.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "health/breaker.hpp"
#include "health/health_state.hpp"
#include "health/lazy_block.hpp"

namespace gatehouse::health {

// What a proxied request's attempt amounted to, for the breaker and the counters.
enum class Outcome : std::uint8_t {
  success,  // the upstream answered with a status not in failure_statuses
  failure,  // connect error, reset, timeout, or a status in failure_statuses
  aborted,  // the client went away first: no verdict on the upstream
};

// Plain values for the stats API (SPEC section 7) and metrics.
struct EndpointSnapshot {
  std::string id;
  Health health = Health::unknown;
  BreakerSnapshot circuit_breaker;
  std::optional<CheckRecord> last_health_check;  // null before the first probe
  std::uint64_t requests_total = 0;
  std::uint64_t requests_failed = 0;
  std::uint64_t fallbacks = 0;
  Clock::SystemTime last_updated{};
};

class EndpointState;

// Transition callbacks run on the thread that caused the transition (a worker, or the
// health checker's thread) while the breaker or health lock is held, so they arrive in
// order; they may log and count (reading the state's id() and target()) but must not
// call back into its breaker or health.
struct EndpointCallbacks {
  std::function<void(const EndpointState& s, const BreakerTransition&)> on_breaker;
  std::function<void(const EndpointState& s, const HealthTransition&)> on_health;
  // Every active health probe's result (not only transitions), after it was applied.
  std::function<void(const EndpointState& s, bool ok)> on_probe;
};
// One set of callbacks serves every state of a snapshot (not a copy per server).
using SharedCallbacks = std::shared_ptr<const EndpointCallbacks>;

// One status-code count of a server's tries (gatehouse_target_requests_total).
struct CodeCount {
  int code = 0;
  std::uint64_t count = 0;
};

class EndpointState {
 public:
  // The state of server `server` of `ep.servers` (an endpoint built by hand without
  // `servers`: its `url`).
  EndpointState(const config::Endpoint& ep, const Clock& clock, EndpointCallbacks callbacks = {},
                std::size_t server = 0);
  // The same without a copy of the endpoint's settings: `ep` is the snapshot's config's
  // endpoint object (shared by the next config while a reload leaves the endpoint as it
  // is), and rebind() moves it to the next snapshot's when that is another object.
  EndpointState(std::shared_ptr<const config::Endpoint> ep, const Clock& clock,
                EndpointCallbacks callbacks = {}, std::size_t server = 0);
  // The same with callbacks shared by many states; `context` is whatever they need to
  // know about this state's endpoint (the registry: its metrics), handed back by context().
  EndpointState(std::shared_ptr<const config::Endpoint> ep, const Clock& clock,
                SharedCallbacks callbacks, std::shared_ptr<void> context, std::size_t server);
  EndpointState(const EndpointState&) = delete;
  EndpointState& operator=(const EndpointState&) = delete;

  const std::string& id() const { return id_; }  // the endpoint's id
  // The server: probed at this URL's origin; `target` is its URL as configured (the
  // label of the per-target metrics and the stats' targets[].url).
  const config::UpstreamUrl& url() const { return url_; }
  const std::string& target() const { return url_.text; }
  // Whether the endpoint has several servers (logs then name the server too), and this
  // one's place among them (probe schedules are spread by it). Updated when a reload
  // keeps this state in another server list.
  bool several() const { return count_.load(std::memory_order_relaxed) > 1; }
  std::size_t index() const { return index_.load(std::memory_order_relaxed); }
  std::size_t count() const { return count_.load(std::memory_order_relaxed); }
  void set_position(std::size_t index, std::size_t count) {
    index_.store(index, std::memory_order_relaxed);
    count_.store(count, std::memory_order_relaxed);
  }

  // --- request path -------------------------------------------------------------
  // Before forwarding. A rejected admission is answered by the fallback (then call
  // record_fallback); an admitted one must end in exactly one record().
  Admission admit() { return breaker_.admit(); }
  // After the attempt: counts the request and feeds the breaker (aborted gives a trial
  // slot back).
  void record(const Admission& a, Outcome outcome);
  // The same; a try's latency is not kept per server (nothing reports it: the stats'
  // percentiles are the endpoint's, in EndpointStats).
  void record(const Admission& a, Outcome outcome, std::chrono::nanoseconds, Clock::SteadyTime) {
    record(a, outcome);
  }
  // A request answered by a fallback (counts in total and fallbacks).
  void record_fallback();
  bool is_failure_status(int status) const;
  // May a request be sent here now (SPEC 13): the breaker admits (asked without taking
  // a trial slot) and the health is not down.
  bool available() const { return breaker_.admits() && health_.status() != Health::down; }
  // One try's answer by status code (the upstream's, or the one the gateway answered
  // for a try without a response: 502, 504; 499 when the client left).
  void count_code(int code);
  std::vector<CodeCount> codes() const;  // sorted by code

  // --- health checker -----------------------------------------------------------
  // One probe result: updates health and last check, feeds the breaker (success
  // resets its failure count or takes a half-open trial slot; failure counts), and a
  // health turning down opens the breaker.
  void record_probe(const CheckRecord& result);

  // --- configuration ------------------------------------------------------------
  // SPEC 5: state survives a reload that changes neither url, health_check nor
  // circuit_breaker. When this is true, keep this object and call update_config().
  bool keeps_state_for(const config::Endpoint& next) const { return keeps_state_for(next, next.url); }
  // The same for one server of `next` (SPEC 13): same server URL, same health_check and
  // circuit_breaker.
  bool keeps_state_for(const config::Endpoint& next, const config::UpstreamUrl& server) const;
  // Same identity, other settings (tls, timeouts...): takes them and bumps last_updated.
  void update_config(const config::Endpoint& next);
  void update_config(std::shared_ptr<const config::Endpoint> next);
  // Same settings, held by a new snapshot's config: points there (so the old config can
  // be freed) without counting as an update.
  void rebind(std::shared_ptr<const config::Endpoint> next);
  std::shared_ptr<const config::Endpoint> config() const;

  // --- readers ------------------------------------------------------------------
  // Never waits on the request path: atomics, plus the health record's own lock.
  // Moves an open breaker whose reset_timeout passed to half_open first.
  void* context() const { return context_.get(); }
  EndpointSnapshot snapshot();
  CircuitBreaker& breaker() { return breaker_; }
  HealthState& health() { return health_; }
  Clock::SystemTime last_updated() const;
  // Whether a request was ever counted here (the shards exist); for memory accounting.
  bool counters_allocated() const { return shards_.peek() != nullptr; }

 private:
  // Status codes a shard counts without a lock; a thread seeing more distinct codes
  // for one server goes to the locked overflow list.
  static constexpr std::size_t kCodeSlots = 8;
  struct CodeSlot {
    std::atomic<int> code{0};
    std::atomic<std::uint64_t> count{0};
  };
  struct alignas(64) Shard {
    std::atomic<std::uint64_t> total{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> fallbacks{0};
    std::array<CodeSlot, kCodeSlots> codes{};
  };
  static constexpr std::size_t kShards = 16;  // per-thread shards, summed on read
  using Shards = std::array<Shard, kShards>;
  EndpointState(const config::Endpoint& ep, std::shared_ptr<const config::Endpoint> config,
                const Clock& clock, SharedCallbacks callbacks, std::shared_ptr<void> context,
                std::size_t server);
  Shard& shard();
  void touch();

  const std::string id_;
  const config::UpstreamUrl url_;
  std::atomic<std::size_t> index_{0};
  std::atomic<std::size_t> count_{1};
  const Clock& clock_;
  const SharedCallbacks callbacks_;        // null: none
  const std::shared_ptr<void> context_;
  const std::vector<int> failure_statuses_;  // circuit_breaker.failure_statuses
  CircuitBreaker breaker_;
  HealthState health_;
  LazyBlock<Shards> shards_;  // 3 KiB, allocated by the first request
  mutable std::mutex codes_mutex_;
  std::vector<CodeCount> overflow_codes_;
  AtomicSystemTime last_updated_;
  mutable std::mutex config_mutex_;
  std::shared_ptr<const config::Endpoint> config_;
};

}  // namespace gatehouse::health
