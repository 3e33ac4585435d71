// health/: what belongs to an endpoint as a whole rather than to one of its servers: the
// client requests it took (each counted once, however many tries it made), their
// latency, the fallbacks that answered, and the `cached` fallback's store (one per
// endpoint: a response is the API's, whichever server gave it). Shared by all threads.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "health/endpoint_state.hpp"
#include "health/lazy_block.hpp"
#include "health/latency.hpp"
#include "health/response_cache.hpp"

namespace gatehouse::health {

struct EndpointTotals {
  std::uint64_t requests_total = 0;
  std::uint64_t requests_failed = 0;
  std::uint64_t fallbacks = 0;
  std::optional<LatencySummary> latency;  // null without samples in the window
};

class EndpointStats {
 public:
  EndpointStats(const config::Endpoint& ep, const Clock& clock);
  EndpointStats(const EndpointStats&) = delete;
  EndpointStats& operator=(const EndpointStats&) = delete;

  // A request that was forwarded, with the outcome of its last try and the time from
  // its first try's start to the outcome (`now`, already read by the caller).
  void record(Outcome outcome, std::chrono::nanoseconds latency, Clock::SteadyTime now);
  // A request answered by a fallback.
  void record_fallback();
  // The `cached` fallback's store; null for the other strategies.
  ResponseCache* cache() { return cache_.get(); }

  // A reload kept this object with other settings: new cache bounds, last_updated moves.
  void update_config(const config::Endpoint& next);
  // The endpoint's registration or last config change.
  Clock::SystemTime last_updated() const;

  EndpointTotals totals() const;
  // Whether a request was ever recorded (shards and latency windows exist).
  bool counters_allocated() const { return shards_.peek() != nullptr; }
  bool latency_allocated() const { return latency_.allocated(); }

 private:
  struct alignas(64) Shard {
    std::atomic<std::uint64_t> total{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> fallbacks{0};
  };
  static constexpr std::size_t kShards = 16;  // per-thread shards, summed on read
  using Shards = std::array<Shard, kShards>;
  Shard& shard();
  void touch();

  const Clock& clock_;
  LatencyEstimator latency_;
  std::unique_ptr<ResponseCache> cache_;
  LazyBlock<Shards> shards_;  // allocated by the first request
  AtomicSystemTime last_updated_;
};

}  // namespace gatehouse::health
