// health/: everything the request path, the health checker, the stats API and the
// metrics need about one endpoint, in one place, shared by all threads.
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

#include "common/clock.hpp"
#include "config/config.hpp"
#include "health/breaker.hpp"
#include "health/health_state.hpp"
#include "health/latency.hpp"
#include "health/response_cache.hpp"

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
  std::optional<LatencySummary> latency;  // null without samples in the window
  Clock::SystemTime last_updated{};
};

// Transition callbacks run on the thread that caused the transition (a worker, or the
// health checker's thread) while the breaker or health lock is held, so they arrive in
// order; they may log and count but must not call back into this EndpointState.
struct EndpointCallbacks {
  std::function<void(const std::string& id, const BreakerTransition&)> on_breaker;
  std::function<void(const std::string& id, const HealthTransition&)> on_health;
  // Every active health probe's result (not only transitions), after it was applied.
  std::function<void(const std::string& id, bool ok)> on_probe;
};

class EndpointState {
 public:
  EndpointState(const config::Endpoint& ep, const Clock& clock, EndpointCallbacks callbacks = {});
  EndpointState(const EndpointState&) = delete;
  EndpointState& operator=(const EndpointState&) = delete;

  const std::string& id() const { return id_; }

  // --- request path -------------------------------------------------------------
  // Before forwarding. A rejected admission is answered by the fallback (then call
  // record_fallback); an admitted one must end in exactly one record().
  Admission admit() { return breaker_.admit(); }
  // After the attempt: counts the request, feeds the breaker (aborted gives a trial
  // slot back) and the latency estimator (success and failure; `now` is the end time
  // the caller already read, so this costs no clock call).
  void record(const Admission& a, Outcome outcome, std::chrono::nanoseconds latency,
              Clock::SteadyTime now);
  // A request answered by a fallback (counts in total and fallbacks).
  void record_fallback();
  bool is_failure_status(int status) const;
  const config::CircuitBreaker& breaker_config() const { return breaker_config_; }
  // The `cached` fallback's store; null for the other strategies.
  ResponseCache* cache() { return cache_.get(); }

  // --- health checker -----------------------------------------------------------
  // One probe result: updates health and last check, feeds the breaker (success
  // resets its failure count or takes a half-open trial slot; failure counts), and a
  // health turning down opens the breaker.
  void record_probe(const CheckRecord& result);

  // --- configuration ------------------------------------------------------------
  // SPEC 5: state survives a reload that changes neither url, health_check nor
  // circuit_breaker. When this is true, keep this object and call update_config().
  bool keeps_state_for(const config::Endpoint& next) const;
  // Same identity, other settings (tls, cache bounds, fallback...): takes them and
  // bumps last_updated.
  void update_config(const config::Endpoint& next);
  std::shared_ptr<const config::Endpoint> config() const;

  // --- readers ------------------------------------------------------------------
  // Never waits on the request path: atomics, plus the health record's own lock.
  // Moves an open breaker whose reset_timeout passed to half_open first.
  EndpointSnapshot snapshot();
  CircuitBreaker& breaker() { return breaker_; }
  HealthState& health() { return health_; }
  const LatencyEstimator& latency() const { return latency_; }
  Clock::SystemTime last_updated() const;

 private:
  struct alignas(64) Shard {
    std::atomic<std::uint64_t> total{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> fallbacks{0};
  };
  static constexpr std::size_t kShards = 16;  // per-thread shards, summed on read
  static Shard& shard(std::array<Shard, kShards>& shards);
  void touch();

  const std::string id_;
  const Clock& clock_;
  const EndpointCallbacks callbacks_;
  const config::CircuitBreaker breaker_config_;
  CircuitBreaker breaker_;
  HealthState health_;
  LatencyEstimator latency_;
  std::unique_ptr<ResponseCache> cache_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::int64_t> last_updated_ns_{0};
  mutable std::mutex config_mutex_;
  std::shared_ptr<const config::Endpoint> config_;
};

}  // namespace gatehouse::health
