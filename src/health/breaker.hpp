// health/: circuit breaker, health state, active health checker, fallback response
// cache, latency estimator, and the per-endpoint state that ties them together.
// breaker.hpp: the SPEC section 5 circuit breaker, shared by every worker thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>

#include "common/clock.hpp"
#include "config/config.hpp"

namespace gatehouse::health {

enum class BreakerState : std::uint8_t { closed = 0, open = 1, half_open = 2 };
std::string_view to_string(BreakerState s);  // "closed" | "open" | "half_open"

enum class BreakerReason : std::uint8_t {
  failure_threshold,  // closed -> open: failure_threshold consecutive failures
  health_down,        // closed/half_open -> open: the health state turned down
  reset_timeout,      // open -> half_open: reset_timeout elapsed
  trial_failed,       // half_open -> open: a trial request failed
  probe_failed,       // half_open -> open: a health probe failed
  trial_timeout,      // half_open -> open: trials held every slot for too long
  trials_succeeded,   // half_open -> closed: every trial succeeded
};
std::string_view to_string(BreakerReason r);  // "failure_threshold", ...

struct BreakerTransition {
  BreakerState from;
  BreakerState to;
  BreakerReason reason;
  std::uint32_t consecutive_failures;  // at the time of the transition
};

// What admit() decided. Pass it back, unchanged, to record() or cancel().
struct Admission {
  enum class Verdict : std::uint8_t { allowed, trial, rejected };
  Verdict verdict = Verdict::allowed;
  std::uint32_t epoch = 0;          // which state period admitted it (stale results are ignored)
  std::uint32_t retry_after_s = 0;  // rejected only: whole seconds until the next attempt, >= 1

  bool admitted() const { return verdict != Verdict::rejected; }
};

struct BreakerOptions {
  std::uint32_t failure_threshold = 5;
  std::chrono::milliseconds reset_timeout{30000};
  std::uint32_t half_open_requests = 1;  // clamped to [1, 32767]
  // A half-open period whose slots are all taken for this long without a verdict
  // counts as a failed trial (a result that never came, e.g. a lost record() call).
  // Zero disables it; EndpointState uses connect_timeout + timeout + 1 s.
  std::chrono::milliseconds trial_timeout{0};

  static BreakerOptions from(const config::CircuitBreaker& cb);
};

struct BreakerSnapshot {
  BreakerState state = BreakerState::closed;
  std::uint32_t consecutive_failures = 0;
  std::optional<Clock::SystemTime> opened_at;        // set while open or half_open
  std::optional<Clock::SystemTime> next_attempt_at;  // set while open or half_open
};

// closed:    admit() is one acquire load; record() of a success is a relaxed load (and a
//            store only when there were failures); a failure is one fetch_add.
// open:      admit() reads the clock; after reset_timeout the first caller moves it to
//            half_open.
// half_open: a CAS on one word hands out exactly half_open_requests trial slots.
// Transitions take a mutex and call the transition callback under it, so callbacks
// arrive in order; the callback must not call back into this breaker's admit, record,
// record_probe, health_down, cancel or refresh.
class CircuitBreaker {
 public:
  using OnTransition = std::function<void(const BreakerTransition&)>;

  CircuitBreaker(const BreakerOptions& options, const Clock& clock,
                 OnTransition on_transition = {});
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  Admission admit() {
    const std::uint64_t w = word_.load(std::memory_order_acquire);
    if ((w & kStateMask) == 0) return Admission{Admission::Verdict::allowed, epoch_of(w), 0};
    return admit_slow(w);
  }

  // The outcome of an admitted request: success = the upstream answered with a status
  // not in failure_statuses; failure = connect error, reset, timeout, failure status.
  void record(const Admission& a, bool success) {
    if (a.verdict == Admission::Verdict::allowed && success) {
      // Hot path: no write when there is nothing to reset.
      if (failures_.load(std::memory_order_relaxed) != 0) reset_failures(a);
      return;
    }
    record_slow(a, success);
  }

  // An admitted request that ended without a verdict on the upstream (client abort):
  // gives a trial slot back.
  void cancel(const Admission& a);

  // An active health probe's result. Probes are never gated by the breaker; a success
  // resets the failure count and, in half_open (reached once reset_timeout elapsed),
  // takes a free trial slot as a successful trial. A failure counts toward
  // failure_threshold while closed and reopens a half_open breaker.
  void record_probe(bool success);

  // The health state turned down: open now (from closed or half_open).
  void health_down();

  // Moves open -> half_open once reset_timeout has elapsed (admit() does this lazily;
  // readers of state call it so the stats do not show a stale "open").
  void refresh();

  // Would admit() let a request through now? Takes no trial slot and makes no
  // transition (an open breaker past its reset_timeout counts as admitting: admit() would
  // move it to half_open). A balancer asks this of every server before choosing one.
  bool admits() const;
  // What a rejected admission would say now: whole seconds until the next attempt, >= 1.
  std::uint32_t retry_after_s() const;

  BreakerState state() const { return state_of(word_.load(std::memory_order_acquire)); }
  std::uint32_t consecutive_failures() const { return failures_.load(std::memory_order_relaxed); }
  BreakerSnapshot snapshot() const;
  const BreakerOptions& options() const { return options_; }

 private:
  // word_: bits 0-1 state, 2-16 trial slots taken, 17-31 trial successes, 32-63 epoch.
  static constexpr std::uint64_t kStateMask = 0x3;
  static constexpr int kTakenShift = 2;
  static constexpr int kSucceededShift = 17;
  static constexpr std::uint64_t kCountMask = 0x7fff;
  static constexpr int kEpochShift = 32;

  static BreakerState state_of(std::uint64_t w) {
    return static_cast<BreakerState>(w & kStateMask);
  }
  static std::uint32_t epoch_of(std::uint64_t w) {
    return static_cast<std::uint32_t>(w >> kEpochShift);
  }
  static std::uint32_t taken_of(std::uint64_t w) {
    return static_cast<std::uint32_t>((w >> kTakenShift) & kCountMask);
  }
  static std::uint32_t succeeded_of(std::uint64_t w) {
    return static_cast<std::uint32_t>((w >> kSucceededShift) & kCountMask);
  }

  Admission admit_slow(std::uint64_t w);
  void record_slow(const Admission& a, bool success);
  void reset_failures(const Admission& a);
  void count_failure(std::uint32_t epoch);
  void trial_success(std::uint32_t epoch, bool take_slot);
  std::uint32_t retry_after(Clock::SteadyTime now) const;
  // Moves from `from` (in `epoch`) to `to` if the breaker is still there; returns false
  // when another thread got there first.
  bool transition(BreakerState from, std::uint32_t epoch, BreakerState to, BreakerReason reason);
  void transition_to_half_open_if_due(std::uint64_t w, Clock::SteadyTime now);

  const BreakerOptions options_;
  const Clock& clock_;
  const OnTransition on_transition_;

  // No cache line of their own: while the breaker is closed and requests succeed these
  // are only read (admit() reads the word, record() reads failures_), so sharing a line
  // costs nothing; writes come with failures and transitions. One server's state is
  // ~200 B smaller for it, which counts with 100,000 endpoints.
  std::atomic<std::uint64_t> word_{0};
  std::atomic<std::uint32_t> failures_{0};
  // Timing of the current open period, written under mutex_ before the state word is
  // published, read lock-free.
  std::atomic<std::int64_t> next_attempt_steady_ns_{0};
  std::atomic<std::int64_t> half_open_since_steady_ns_{0};
  std::atomic<std::int64_t> opened_at_system_ns_{0};
  std::atomic<std::int64_t> next_attempt_system_ns_{0};
  std::mutex mutex_;  // transitions only
};

}  // namespace gatehouse::health
