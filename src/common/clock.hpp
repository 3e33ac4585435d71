// common/: the injectable clock. Timed state machines (circuit breaker, health,
// JWT expiry) read time through this interface so tests drive it with FakeClock.
#pragma once

#include <atomic>
#include <chrono>

namespace gatehouse {

class Clock {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;  // timers, durations
  using SystemTime = std::chrono::system_clock::time_point;  // timestamps people read

  virtual ~Clock() = default;
  virtual SteadyTime steady_now() const = 0;
  virtual SystemTime system_now() const = 0;
};

class RealClock final : public Clock {
 public:
  SteadyTime steady_now() const override { return std::chrono::steady_clock::now(); }
  SystemTime system_now() const override { return std::chrono::system_clock::now(); }

  // One instance is enough for the whole process; it has no state.
  static RealClock& instance() {
    static RealClock clock;
    return clock;
  }
};

// A wall-clock timestamp that one thread stores and others read, without a lock.
class AtomicSystemTime {
 public:
  void store(Clock::SystemTime t) {
    ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(),
              std::memory_order_relaxed);
  }
  Clock::SystemTime load() const {
    return Clock::SystemTime(std::chrono::duration_cast<Clock::SystemTime::duration>(
        std::chrono::nanoseconds(ns_.load(std::memory_order_relaxed))));
  }

 private:
  std::atomic<std::int64_t> ns_{0};
};

// Starts at a fixed, recognisable point (steady: 1000 s after its epoch; system:
// 2026-01-01T00:00:00Z) and moves only when told. Both clocks move together.
// Thread-safe, so concurrency tests can read it from many threads.
class FakeClock final : public Clock {
 public:
  static constexpr std::int64_t kSystemStartNs = 1767225600LL * 1'000'000'000LL;

  SteadyTime steady_now() const override {
    return SteadyTime(std::chrono::nanoseconds(steady_ns_.load(std::memory_order_acquire)));
  }
  SystemTime system_now() const override {
    return SystemTime(std::chrono::duration_cast<SystemTime::duration>(
        std::chrono::nanoseconds(system_ns_.load(std::memory_order_acquire))));
  }

  void advance(std::chrono::nanoseconds d) {
    steady_ns_.fetch_add(d.count(), std::memory_order_acq_rel);
    system_ns_.fetch_add(d.count(), std::memory_order_acq_rel);
  }

 private:
  std::atomic<std::int64_t> steady_ns_{1'000'000'000'000LL};
  std::atomic<std::int64_t> system_ns_{kSystemStartNs};
};

}  // namespace gatehouse
