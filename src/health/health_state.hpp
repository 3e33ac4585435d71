// health/: the up/down/unknown verdict of active health checks for one endpoint.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "config/config.hpp"

namespace gatehouse::health {

enum class Health : std::uint8_t { unknown = 0, up = 1, down = 2 };
std::string_view to_string(Health h);  // "unknown" | "up" | "down"

// One health probe's outcome; also what the stats API shows as last_health_check.
struct CheckRecord {
  Clock::SystemTime at{};
  bool ok = false;
  int status = 0;  // HTTP status; 0 when no response arrived
  double latency_ms = 0;
  std::string error;  // empty when ok; "connect: Connection refused", "timeout", ...
};

struct HealthTransition {
  Health from;
  Health to;
  std::string reason;  // "2 consecutive successful checks", "3 consecutive failed checks: timeout"
};

// healthy_threshold consecutive successes -> up; unhealthy_threshold consecutive
// failures -> down. With health_check disabled it stays unknown and ignores results.
// record() is called by the health checker's thread; reads are from anywhere.
class HealthState {
 public:
  using OnTransition = std::function<void(const HealthTransition&)>;

  explicit HealthState(const config::HealthCheck& hc, OnTransition on_transition = {});

  // Returns the transition this result caused, if any (the callback has run by then).
  std::optional<HealthTransition> record(const CheckRecord& result);

  Health status() const { return status_.load(std::memory_order_acquire); }
  bool enabled() const { return enabled_; }
  std::optional<CheckRecord> last_check() const;

 private:
  const bool enabled_;
  const std::uint32_t healthy_threshold_;
  const std::uint32_t unhealthy_threshold_;
  const OnTransition on_transition_;
  std::atomic<Health> status_{Health::unknown};
  mutable std::mutex mutex_;  // guards the fields below (one write per interval)
  std::uint32_t successes_ = 0;
  std::uint32_t failures_ = 0;
  std::optional<CheckRecord> last_;
};

}  // namespace gatehouse::health
