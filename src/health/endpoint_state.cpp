#include "health/endpoint_state.hpp"

#include <algorithm>

namespace gatehouse::health {

namespace {

// A trial that has held its slot longer than any request may take lost its result
// (a missing record() call): half-open must not wait for it forever.
BreakerOptions breaker_options(const config::Endpoint& ep) {
  BreakerOptions o = BreakerOptions::from(ep.circuit_breaker);
  o.trial_timeout = ep.connect_timeout + ep.timeout + std::chrono::seconds(1);
  return o;
}

}  // namespace

EndpointState::EndpointState(const config::Endpoint& ep, const Clock& clock,
                             EndpointCallbacks callbacks)
    : id_(ep.id),
      clock_(clock),
      callbacks_(std::move(callbacks)),
      breaker_config_(ep.circuit_breaker),
      breaker_(breaker_options(ep), clock,
               [this](const BreakerTransition& t) {
                 touch();
                 if (callbacks_.on_breaker) callbacks_.on_breaker(id_, t);
               }),
      health_(ep.health_check,
              [this](const HealthTransition& t) {
                touch();
                if (callbacks_.on_health) callbacks_.on_health(id_, t);
              }),
      config_(std::make_shared<const config::Endpoint>(ep)) {
  if (ep.circuit_breaker.fallback_strategy == "cached")
    cache_ = std::make_unique<ResponseCache>(ep.cache, clock);
  touch();
}

EndpointState::Shard& EndpointState::shard(std::array<Shard, kShards>& shards) {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shards[index];
}

void EndpointState::record(const Admission& a, Outcome outcome, std::chrono::nanoseconds latency,
                           Clock::SteadyTime now) {
  Shard& s = shard(shards_);
  s.total.fetch_add(1, std::memory_order_relaxed);
  switch (outcome) {
    case Outcome::success:
      breaker_.record(a, true);
      latency_.record(latency, now);
      break;
    case Outcome::failure:
      s.failed.fetch_add(1, std::memory_order_relaxed);
      breaker_.record(a, false);
      latency_.record(latency, now);
      break;
    case Outcome::aborted:
      breaker_.cancel(a);
      break;
  }
}

void EndpointState::record_fallback() {
  Shard& s = shard(shards_);
  s.total.fetch_add(1, std::memory_order_relaxed);
  s.fallbacks.fetch_add(1, std::memory_order_relaxed);
}

bool EndpointState::is_failure_status(int status) const {
  const auto& list = breaker_config_.failure_statuses;
  return std::find(list.begin(), list.end(), status) != list.end();
}

void EndpointState::record_probe(const CheckRecord& result) {
  const auto t = health_.record(result);
  // Open for the health verdict first, so the log names the real reason.
  if (t && t->to == Health::down) breaker_.health_down();
  breaker_.record_probe(result.ok);
  if (callbacks_.on_probe) callbacks_.on_probe(id_, result.ok);
}

bool EndpointState::keeps_state_for(const config::Endpoint& next) const {
  const auto current = config();
  return current->url == next.url && current->health_check == next.health_check &&
         current->circuit_breaker == next.circuit_breaker;
}

void EndpointState::update_config(const config::Endpoint& next) {
  auto fresh = std::make_shared<const config::Endpoint>(next);
  {
    std::lock_guard lock(config_mutex_);
    config_ = std::move(fresh);
  }
  if (cache_) cache_->set_limits(next.cache);
  touch();
}

std::shared_ptr<const config::Endpoint> EndpointState::config() const {
  std::lock_guard lock(config_mutex_);
  return config_;
}

void EndpointState::touch() {
  const auto now = clock_.system_now();
  last_updated_ns_.store(
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count(),
      std::memory_order_relaxed);
}

Clock::SystemTime EndpointState::last_updated() const {
  return Clock::SystemTime(std::chrono::duration_cast<Clock::SystemTime::duration>(
      std::chrono::nanoseconds(last_updated_ns_.load(std::memory_order_relaxed))));
}

EndpointSnapshot EndpointState::snapshot() {
  breaker_.refresh();
  EndpointSnapshot s;
  s.id = id_;
  s.health = health_.status();
  s.circuit_breaker = breaker_.snapshot();
  s.last_health_check = health_.last_check();
  for (const Shard& shard : shards_) {
    s.requests_total += shard.total.load(std::memory_order_relaxed);
    s.requests_failed += shard.failed.load(std::memory_order_relaxed);
    s.fallbacks += shard.fallbacks.load(std::memory_order_relaxed);
  }
  s.latency = latency_.summary(clock_.steady_now());
  s.last_updated = last_updated();
  return s;
}

}  // namespace gatehouse::health
