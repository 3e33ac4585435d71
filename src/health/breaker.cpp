#include "health/breaker.hpp"

#include <algorithm>

namespace gatehouse::health {

namespace {

std::int64_t ns_of(Clock::SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
std::int64_t ns_of(Clock::SystemTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
Clock::SystemTime system_of(std::int64_t ns) {
  return Clock::SystemTime(
      std::chrono::duration_cast<Clock::SystemTime::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace

std::string_view to_string(BreakerState s) {
  switch (s) {
    case BreakerState::closed:
      return "closed";
    case BreakerState::open:
      return "open";
    case BreakerState::half_open:
      return "half_open";
  }
  return "closed";
}

std::string_view to_string(BreakerReason r) {
  switch (r) {
    case BreakerReason::failure_threshold:
      return "failure_threshold";
    case BreakerReason::health_down:
      return "health_down";
    case BreakerReason::reset_timeout:
      return "reset_timeout";
    case BreakerReason::trial_failed:
      return "trial_failed";
    case BreakerReason::probe_failed:
      return "probe_failed";
    case BreakerReason::trial_timeout:
      return "trial_timeout";
    case BreakerReason::trials_succeeded:
      return "trials_succeeded";
  }
  return "failure_threshold";
}

BreakerOptions BreakerOptions::from(const config::CircuitBreaker& cb) {
  BreakerOptions o;
  o.failure_threshold = cb.failure_threshold;
  o.reset_timeout = cb.reset_timeout;
  o.half_open_requests = cb.half_open_requests;
  return o;
}

namespace {
BreakerOptions clamped(BreakerOptions o) {
  o.failure_threshold = std::max<std::uint32_t>(o.failure_threshold, 1);
  o.half_open_requests = std::clamp<std::uint32_t>(o.half_open_requests, 1, 0x7fff);
  return o;
}
}  // namespace

CircuitBreaker::CircuitBreaker(const BreakerOptions& options, const Clock& clock,
                               OnTransition on_transition)
    : options_(clamped(options)), clock_(clock), on_transition_(std::move(on_transition)) {}

Admission CircuitBreaker::admit_slow(std::uint64_t w) {
  for (;;) {
    switch (state_of(w)) {
      case BreakerState::closed:
        return Admission{Admission::Verdict::allowed, epoch_of(w), 0};
      case BreakerState::open: {
        const auto now = clock_.steady_now();
        if (ns_of(now) < next_attempt_steady_ns_.load(std::memory_order_acquire))
          return Admission{Admission::Verdict::rejected, epoch_of(w), retry_after(now)};
        transition(BreakerState::open, epoch_of(w), BreakerState::half_open,
                   BreakerReason::reset_timeout);
        w = word_.load(std::memory_order_acquire);
        break;
      }
      case BreakerState::half_open: {
        if (taken_of(w) < options_.half_open_requests) {
          if (word_.compare_exchange_weak(w, w + (std::uint64_t{1} << kTakenShift),
                                          std::memory_order_acq_rel, std::memory_order_acquire))
            return Admission{Admission::Verdict::trial, epoch_of(w), 0};
          break;  // w was reloaded by the failed CAS
        }
        if (options_.trial_timeout.count() > 0) {
          const auto now = clock_.steady_now();
          const auto held = std::chrono::nanoseconds(
              ns_of(now) - half_open_since_steady_ns_.load(std::memory_order_acquire));
          if (held >= options_.trial_timeout) {
            transition(BreakerState::half_open, epoch_of(w), BreakerState::open,
                       BreakerReason::trial_timeout);
            w = word_.load(std::memory_order_acquire);
            break;
          }
        }
        // Trials are in flight; their verdict comes within a request's time.
        return Admission{Admission::Verdict::rejected, epoch_of(w), 1};
      }
    }
  }
}

bool CircuitBreaker::admits() const {
  const std::uint64_t w = word_.load(std::memory_order_acquire);
  switch (state_of(w)) {
    case BreakerState::closed:
      return true;
    case BreakerState::open:
      return ns_of(clock_.steady_now()) >= next_attempt_steady_ns_.load(std::memory_order_acquire);
    case BreakerState::half_open:
      return taken_of(w) < options_.half_open_requests;
  }
  return false;
}

std::uint32_t CircuitBreaker::retry_after_s() const {
  const std::uint64_t w = word_.load(std::memory_order_acquire);
  if (state_of(w) != BreakerState::open) return 1;  // as admit_slow: trials in flight
  return retry_after(clock_.steady_now());
}

std::uint32_t CircuitBreaker::retry_after(Clock::SteadyTime now) const {
  const std::int64_t left = next_attempt_steady_ns_.load(std::memory_order_acquire) - ns_of(now);
  if (left <= 0) return 1;
  const std::int64_t secs = (left + 999'999'999) / 1'000'000'000;
  return static_cast<std::uint32_t>(std::max<std::int64_t>(secs, 1));
}

void CircuitBreaker::reset_failures(const Admission& a) {
  const std::uint64_t w = word_.load(std::memory_order_acquire);
  if (state_of(w) == BreakerState::closed && epoch_of(w) == a.epoch)
    failures_.store(0, std::memory_order_relaxed);
}

void CircuitBreaker::record_slow(const Admission& a, bool success) {
  switch (a.verdict) {
    case Admission::Verdict::allowed:
      if (!success) count_failure(a.epoch);
      return;
    case Admission::Verdict::trial:
      if (success)
        trial_success(a.epoch, false);
      else
        transition(BreakerState::half_open, a.epoch, BreakerState::open,
                   BreakerReason::trial_failed);
      return;
    case Admission::Verdict::rejected:
      return;
  }
}

void CircuitBreaker::count_failure(std::uint32_t epoch) {
  const std::uint64_t w = word_.load(std::memory_order_acquire);
  if (state_of(w) != BreakerState::closed || epoch_of(w) != epoch) return;  // stale
  const std::uint32_t n = failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (n >= options_.failure_threshold)
    transition(BreakerState::closed, epoch, BreakerState::open, BreakerReason::failure_threshold);
}

void CircuitBreaker::trial_success(std::uint32_t epoch, bool take_slot) {
  std::uint64_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    if (state_of(w) != BreakerState::half_open || epoch_of(w) != epoch) return;
    std::uint64_t next = w + (std::uint64_t{1} << kSucceededShift);
    if (take_slot) {
      if (taken_of(w) >= options_.half_open_requests) return;  // every slot is in use
      next += std::uint64_t{1} << kTakenShift;
    }
    if (word_.compare_exchange_weak(w, next, std::memory_order_acq_rel,
                                    std::memory_order_acquire)) {
      if (succeeded_of(next) >= options_.half_open_requests)
        transition(BreakerState::half_open, epoch, BreakerState::closed,
                   BreakerReason::trials_succeeded);
      return;
    }
  }
}

void CircuitBreaker::cancel(const Admission& a) {
  if (a.verdict != Admission::Verdict::trial) return;
  std::uint64_t w = word_.load(std::memory_order_acquire);
  for (;;) {
    if (state_of(w) != BreakerState::half_open || epoch_of(w) != a.epoch || taken_of(w) == 0)
      return;
    if (word_.compare_exchange_weak(w, w - (std::uint64_t{1} << kTakenShift),
                                    std::memory_order_acq_rel, std::memory_order_acquire))
      return;
  }
}

void CircuitBreaker::record_probe(bool success) {
  std::uint64_t w = word_.load(std::memory_order_acquire);
  if (state_of(w) == BreakerState::open) {
    transition_to_half_open_if_due(w, clock_.steady_now());
    w = word_.load(std::memory_order_acquire);
  }
  switch (state_of(w)) {
    case BreakerState::closed:
      if (success) {
        if (failures_.load(std::memory_order_relaxed) != 0)
          reset_failures(Admission{Admission::Verdict::allowed, epoch_of(w), 0});
      } else {
        count_failure(epoch_of(w));
      }
      return;
    case BreakerState::open:
      return;  // before reset_timeout a probe is not a trial
    case BreakerState::half_open:
      if (success)
        trial_success(epoch_of(w), true);
      else
        transition(BreakerState::half_open, epoch_of(w), BreakerState::open,
                   BreakerReason::probe_failed);
      return;
  }
}

void CircuitBreaker::health_down() {
  for (;;) {
    const std::uint64_t w = word_.load(std::memory_order_acquire);
    const BreakerState s = state_of(w);
    if (s == BreakerState::open) return;
    if (transition(s, epoch_of(w), BreakerState::open, BreakerReason::health_down)) return;
  }
}

void CircuitBreaker::refresh() {
  const std::uint64_t w = word_.load(std::memory_order_acquire);
  if (state_of(w) == BreakerState::open) transition_to_half_open_if_due(w, clock_.steady_now());
}

void CircuitBreaker::transition_to_half_open_if_due(std::uint64_t w, Clock::SteadyTime now) {
  if (ns_of(now) >= next_attempt_steady_ns_.load(std::memory_order_acquire))
    transition(BreakerState::open, epoch_of(w), BreakerState::half_open,
               BreakerReason::reset_timeout);
}

bool CircuitBreaker::transition(BreakerState from, std::uint32_t epoch, BreakerState to,
                                BreakerReason reason) {
  std::lock_guard lock(mutex_);
  const std::uint64_t w = word_.load(std::memory_order_acquire);
  if (state_of(w) != from || epoch_of(w) != epoch) return false;  // someone got there first

  const auto steady = clock_.steady_now();
  switch (to) {
    case BreakerState::open: {
      if (from == BreakerState::half_open && reason != BreakerReason::health_down)
        failures_.fetch_add(1, std::memory_order_relaxed);
      const auto sys = clock_.system_now();
      const auto reset =
          std::chrono::duration_cast<std::chrono::nanoseconds>(options_.reset_timeout);
      next_attempt_steady_ns_.store(ns_of(steady) + reset.count(), std::memory_order_relaxed);
      opened_at_system_ns_.store(ns_of(sys), std::memory_order_relaxed);
      next_attempt_system_ns_.store(ns_of(sys) + reset.count(), std::memory_order_relaxed);
      break;
    }
    case BreakerState::half_open:
      half_open_since_steady_ns_.store(ns_of(steady), std::memory_order_relaxed);
      break;
    case BreakerState::closed:
      failures_.store(0, std::memory_order_relaxed);
      break;
  }
  // Slot takers CAS against the old word; a plain store makes their CAS fail and retry
  // against the new state. Release publishes the timing written above.
  const std::uint64_t next =
      (static_cast<std::uint64_t>(epoch + 1) << kEpochShift) | static_cast<std::uint64_t>(to);
  word_.store(next, std::memory_order_release);
  if (on_transition_)
    on_transition_(BreakerTransition{from, to, reason, failures_.load(std::memory_order_relaxed)});
  return true;
}

BreakerSnapshot CircuitBreaker::snapshot() const {
  BreakerSnapshot s;
  const std::uint64_t w = word_.load(std::memory_order_acquire);
  s.state = state_of(w);
  s.consecutive_failures = failures_.load(std::memory_order_relaxed);
  if (s.state != BreakerState::closed) {
    s.opened_at = system_of(opened_at_system_ns_.load(std::memory_order_relaxed));
    s.next_attempt_at = system_of(next_attempt_system_ns_.load(std::memory_order_relaxed));
  }
  return s;
}

}  // namespace gatehouse::health
