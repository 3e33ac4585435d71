// metrics/: the duration histograms' buckets (seconds), shared by every duration metric.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace gatehouse::metrics {

// 100 µs .. 10 s: a proxied request on a LAN takes well under a millisecond, a slow
// upstream seconds; `timeout` defaults to 30 s and lands in +Inf.
inline constexpr std::array<std::int64_t, 16> kBucketBoundsNs = {
    100'000,       250'000,       500'000,       1'000'000,     2'500'000,    5'000'000,
    10'000'000,    25'000'000,    50'000'000,    100'000'000,   250'000'000,  500'000'000,
    1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000};
inline constexpr std::array<std::string_view, 16> kBucketLabels = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
    "0.05",   "0.1",     "0.25",   "0.5",   "1",      "2.5",   "5",    "10"};
// Buckets per series: one per bound, then +Inf.
inline constexpr std::size_t kBuckets = kBucketBoundsNs.size() + 1;

// The bucket a duration falls in: the first bound it does not exceed (`le`), else +Inf.
constexpr std::size_t bucket_of(std::int64_t ns) {
  std::size_t i = 0;
  while (i < kBucketBoundsNs.size() && ns > kBucketBoundsNs[i]) ++i;
  return i;
}

}  // namespace gatehouse::metrics
