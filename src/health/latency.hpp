// health/: a bounded-memory latency estimator for the stats API's p50/p99.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include "common/clock.hpp"
#include "health/lazy_block.hpp"

namespace gatehouse::health {

struct LatencySummary {
  std::uint64_t count = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

// A log-linear histogram (microsecond resolution below 16 us, then 8 buckets per power
// of two: at most ~6% error after interpolation) kept per minute in a ring of six
// windows: percentiles cover the current minute plus the five before it, i.e. the last
// 5 to 6 minutes. Fixed size (~6 KiB), allocated by the first record(): an endpoint that
// never takes a request costs one null pointer (10,000 idle endpoints would otherwise
// hold 57 MiB of zeros). record() is one relaxed fetch_add on a bucket (plus, once a
// minute, zeroing the window being reused), so any thread may call it. A sample recorded
// while another thread is recycling its window may be lost; this is an estimator, not a
// counter.
class LatencyEstimator {
 public:

  static constexpr int kWindows = 6;
  static constexpr std::chrono::seconds kWindowLength{60};
  static constexpr std::size_t kBuckets = 240;

  void record(std::chrono::nanoseconds latency, Clock::SteadyTime now);

  // Empty when nothing was recorded in the covered windows.
  std::optional<LatencySummary> summary(Clock::SteadyTime now) const;
  // One quantile (0 < q <= 1) in milliseconds; empty without samples.
  std::optional<double> quantile_ms(double q, Clock::SteadyTime now) const;

  // Exposed for tests: bucket index of a value in microseconds and the bucket's range.
  static std::size_t bucket_of(std::uint64_t micros);
  static std::uint64_t bucket_lower(std::size_t index);
  static std::uint64_t bucket_width(std::size_t index);
  // Whether a sample was ever recorded (the windows exist); for memory accounting.
  bool allocated() const { return windows_.peek() != nullptr; }

 private:
  struct Window {
    std::atomic<std::int64_t> minute{-1};
    std::array<std::atomic<std::uint32_t>, kBuckets> counts{};
  };
  using Windows = std::array<Window, kWindows>;
  using Totals = std::array<std::uint64_t, kBuckets>;
  std::uint64_t collect(Clock::SteadyTime now, Totals& totals) const;
  static double quantile_of(const Totals& totals, std::uint64_t count, double q);

  LazyBlock<Windows> windows_;
};

}  // namespace gatehouse::health
