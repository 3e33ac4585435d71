#include "health/health_state.hpp"

#include <algorithm>

namespace gatehouse::health {

std::string_view to_string(Health h) {
  switch (h) {
    case Health::unknown:
      return "unknown";
    case Health::up:
      return "up";
    case Health::down:
      return "down";
  }
  return "unknown";
}

HealthState::HealthState(const config::HealthCheck& hc, OnTransition on_transition)
    : enabled_(hc.enabled),
      healthy_threshold_(std::max<std::uint32_t>(hc.healthy_threshold, 1)),
      unhealthy_threshold_(std::max<std::uint32_t>(hc.unhealthy_threshold, 1)),
      on_transition_(std::move(on_transition)) {}

std::optional<HealthTransition> HealthState::record(const CheckRecord& result) {
  if (!enabled_) return std::nullopt;
  std::optional<HealthTransition> t;
  std::lock_guard lock(mutex_);
  last_ = result;
  const Health from = status_.load(std::memory_order_relaxed);
  if (result.ok) {
    failures_ = 0;
    ++successes_;
    if (from != Health::up && successes_ >= healthy_threshold_)
      t = HealthTransition{from, Health::up,
                           std::to_string(successes_) + " consecutive successful checks"};
  } else {
    successes_ = 0;
    ++failures_;
    if (from != Health::down && failures_ >= unhealthy_threshold_)
      t = HealthTransition{
          from, Health::down,
          std::to_string(failures_) + " consecutive failed checks: " +
              (result.error.empty() ? "status " + std::to_string(result.status) : result.error)};
  }
  if (t) {
    status_.store(t->to, std::memory_order_release);
    if (on_transition_) on_transition_(*t);
  }
  return t;
}

std::optional<CheckRecord> HealthState::last_check() const {
  std::lock_guard lock(mutex_);
  return last_;
}

}  // namespace gatehouse::health
