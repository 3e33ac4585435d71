#include "health/endpoint_stats.hpp"

namespace gatehouse::health {

EndpointStats::EndpointStats(const config::Endpoint& ep, const Clock& clock) : clock_(clock) {
  if (ep.circuit_breaker->fallback_strategy == "cached")
    cache_ = std::make_unique<ResponseCache>(ep.cache, clock);
  touch();
}

EndpointStats::Shard& EndpointStats::shard() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shards_.get()[index];
}

void EndpointStats::record(Outcome outcome, std::chrono::nanoseconds latency,
                           Clock::SteadyTime now) {
  Shard& s = shard();
  s.total.fetch_add(1, std::memory_order_relaxed);
  if (outcome == Outcome::failure) s.failed.fetch_add(1, std::memory_order_relaxed);
  // Aborted (the client left first) says nothing about the upstream's speed.
  if (outcome != Outcome::aborted) latency_.record(latency, now);
}

void EndpointStats::record_fallback() {
  Shard& s = shard();
  s.total.fetch_add(1, std::memory_order_relaxed);
  s.fallbacks.fetch_add(1, std::memory_order_relaxed);
}

void EndpointStats::update_config(const config::Endpoint& next) {
  if (cache_) cache_->set_limits(next.cache);
  touch();
}

void EndpointStats::touch() { last_updated_.store(clock_.system_now()); }

Clock::SystemTime EndpointStats::last_updated() const { return last_updated_.load(); }

EndpointTotals EndpointStats::totals() const {
  EndpointTotals t;
  if (const Shards* shards = shards_.peek())
    for (const Shard& s : *shards) {
      t.requests_total += s.total.load(std::memory_order_relaxed);
      t.requests_failed += s.failed.load(std::memory_order_relaxed);
      t.fallbacks += s.fallbacks.load(std::memory_order_relaxed);
    }
  t.latency = latency_.summary(clock_.steady_now());
  return t;
}

}  // namespace gatehouse::health
