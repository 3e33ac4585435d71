// auth/: time for the JWT checks comes from common/'s injectable Clock (system_now),
// so tests drive expiry with a fake clock.
#pragma once

#include <chrono>
#include <memory>

#include "common/clock.hpp"

namespace gatehouse::auth {

using Clock = gatehouse::Clock;

// The process-wide real clock as a shared_ptr (it is a static; nothing is owned).
inline std::shared_ptr<const Clock> real_clock() {
  return std::shared_ptr<const Clock>(&RealClock::instance(), [](const Clock*) {});
}

// Seconds since the epoch as a double: JWT NumericDate values may carry fractions.
inline double to_numeric_date(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

}  // namespace gatehouse::auth
