#include "health/latency.hpp"

#include <bit>
#include <cmath>

namespace gatehouse::health {

namespace {

constexpr std::uint64_t kExact = 16;  // values below this have their own bucket
constexpr std::uint64_t kHalf = 8;    // buckets per power of two above it
constexpr std::uint64_t kMaxMicros = (std::uint64_t{1} << 32) - 1;  // ~71 minutes

std::int64_t minute_of(Clock::SteadyTime now) {
  return std::chrono::duration_cast<std::chrono::minutes>(now.time_since_epoch()).count();
}

}  // namespace

std::size_t LatencyEstimator::bucket_of(std::uint64_t micros) {
  if (micros > kMaxMicros) micros = kMaxMicros;
  if (micros < kExact) return static_cast<std::size_t>(micros);
  // Shift so the top bits fall in [8, 16): the exponent picks the group, the rest the
  // bucket inside it.
  const int exp = std::bit_width(micros) - 4;
  return static_cast<std::size_t>(kExact + (exp - 1) * kHalf + ((micros >> exp) - kHalf));
}

std::uint64_t LatencyEstimator::bucket_lower(std::size_t index) {
  if (index < kExact) return index;
  const std::uint64_t k = index - kExact;
  const int exp = static_cast<int>(k / kHalf) + 1;
  return (k % kHalf + kHalf) << exp;
}

std::uint64_t LatencyEstimator::bucket_width(std::size_t index) {
  if (index < kExact) return 1;
  return std::uint64_t{1} << ((index - kExact) / kHalf + 1);
}

void LatencyEstimator::record(std::chrono::nanoseconds latency, Clock::SteadyTime now) {
  const std::int64_t minute = minute_of(now);
  Window& w = windows_.get()[static_cast<std::size_t>(minute % kWindows)];
  std::int64_t seen = w.minute.load(std::memory_order_acquire);
  if (seen != minute) {
    if (seen > minute) return;  // the caller's clock reading is minutes old
    if (w.minute.compare_exchange_strong(seen, minute, std::memory_order_acq_rel)) {
      for (auto& c : w.counts) c.store(0, std::memory_order_relaxed);
    } else if (seen != minute) {
      return;  // lost a race to a newer minute
    }
  }
  const auto micros = latency.count() <= 0 ? 0 : static_cast<std::uint64_t>(latency.count() / 1000);
  w.counts[bucket_of(micros)].fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t LatencyEstimator::collect(Clock::SteadyTime now, Totals& totals) const {
  totals.fill(0);
  const Windows* windows = windows_.peek();
  if (!windows) return 0;
  const std::int64_t current = minute_of(now);
  std::uint64_t count = 0;
  for (const Window& w : *windows) {
    const std::int64_t m = w.minute.load(std::memory_order_acquire);
    if (m < 0 || m > current || current - m >= kWindows) continue;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      const std::uint64_t n = w.counts[i].load(std::memory_order_relaxed);
      totals[i] += n;
      count += n;
    }
  }
  return count;
}

double LatencyEstimator::quantile_of(const Totals& totals, std::uint64_t count, double q) {
  const double rank = std::max(1.0, std::ceil(q * static_cast<double>(count)));
  double before = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    const double n = static_cast<double>(totals[i]);
    if (n == 0) continue;
    if (before + n >= rank) {
      // Assume the bucket's samples are spread evenly across it.
      const double within = (rank - before - 0.5) / n;
      const double micros =
          static_cast<double>(bucket_lower(i)) + within * static_cast<double>(bucket_width(i));
      return micros / 1000.0;
    }
    before += n;
  }
  return static_cast<double>(kMaxMicros) / 1000.0;
}

std::optional<LatencySummary> LatencyEstimator::summary(Clock::SteadyTime now) const {
  Totals totals;
  const std::uint64_t count = collect(now, totals);
  if (count == 0) return std::nullopt;
  return LatencySummary{count, quantile_of(totals, count, 0.50), quantile_of(totals, count, 0.99)};
}

std::optional<double> LatencyEstimator::quantile_ms(double q, Clock::SteadyTime now) const {
  Totals totals;
  const std::uint64_t count = collect(now, totals);
  if (count == 0) return std::nullopt;
  return quantile_of(totals, count, q);
}

}  // namespace gatehouse::health
