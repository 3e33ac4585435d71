#include "health/latency.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using namespace gatehouse;
using namespace gatehouse::health;
using namespace std::chrono_literals;

namespace {

TEST(Latency, BucketsCoverEveryValueWithBoundedWidth) {
  for (std::uint64_t v : {0ull, 1ull, 15ull, 16ull, 17ull, 31ull, 32ull, 100ull, 999ull, 1000ull,
                          12345ull, 1000000ull, 123456789ull, 4294967295ull}) {
    const auto i = LatencyEstimator::bucket_of(v);
    ASSERT_LT(i, LatencyEstimator::kBuckets) << v;
    const auto lo = LatencyEstimator::bucket_lower(i);
    const auto width = LatencyEstimator::bucket_width(i);
    EXPECT_LE(lo, v) << v;
    EXPECT_LT(v, lo + width) << v;
    if (v >= 16) {
      EXPECT_LE(static_cast<double>(width) / static_cast<double>(lo), 0.125) << v;
    }
  }
  // Buckets are contiguous and increasing.
  for (std::size_t i = 1; i < LatencyEstimator::kBuckets; ++i)
    EXPECT_EQ(LatencyEstimator::bucket_lower(i),
              LatencyEstimator::bucket_lower(i - 1) + LatencyEstimator::bucket_width(i - 1));
  EXPECT_EQ(LatencyEstimator::bucket_of(~0ull), LatencyEstimator::kBuckets - 1);  // clamped
}

TEST(Latency, EmptyHasNoSummary) {
  FakeClock clock;
  LatencyEstimator est;
  EXPECT_FALSE(est.summary(clock.steady_now()));
  EXPECT_FALSE(est.quantile_ms(0.5, clock.steady_now()));
}

TEST(Latency, PercentilesOfUniformData) {
  FakeClock clock;
  LatencyEstimator est;
  for (int ms = 1; ms <= 1000; ++ms) est.record(std::chrono::milliseconds(ms), clock.steady_now());
  const auto s = est.summary(clock.steady_now());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->count, 1000u);
  EXPECT_NEAR(s->p50_ms, 500.0, 500.0 * 0.07);
  EXPECT_NEAR(s->p99_ms, 990.0, 990.0 * 0.07);
  EXPECT_NEAR(*est.quantile_ms(0.9, clock.steady_now()), 900.0, 900.0 * 0.07);
}

TEST(Latency, PercentilesOfSkewedData) {
  FakeClock clock;
  LatencyEstimator est;
  // 98 fast requests at 2 ms, 2 slow ones at 800 ms: p50 is fast, p99 is slow.
  for (int i = 0; i < 98; ++i) est.record(2ms, clock.steady_now());
  est.record(800ms, clock.steady_now());
  est.record(800ms, clock.steady_now());
  const auto s = est.summary(clock.steady_now());
  ASSERT_TRUE(s);
  EXPECT_NEAR(s->p50_ms, 2.0, 2.0 * 0.07);
  EXPECT_NEAR(s->p99_ms, 800.0, 800.0 * 0.07);
}

TEST(Latency, SubMillisecondValues) {
  FakeClock clock;
  LatencyEstimator est;
  for (int i = 0; i < 10; ++i) est.record(5us, clock.steady_now());
  EXPECT_NEAR(*est.quantile_ms(0.5, clock.steady_now()), 0.0055, 0.001);
  est.record(-1ms, clock.steady_now());  // a clock step backwards counts as zero
  EXPECT_EQ(est.summary(clock.steady_now())->count, 11u);
}

TEST(Latency, WindowCoversTheLastFiveToSixMinutes) {
  FakeClock clock;
  LatencyEstimator est;
  // Start on a minute boundary so window arithmetic is exact.
  const auto since = clock.steady_now().time_since_epoch();
  clock.advance(60s - (since % 60s));
  est.record(100ms, clock.steady_now());  // minute m
  clock.advance(5min);
  est.record(1ms, clock.steady_now());  // minute m + 5
  auto s = est.summary(clock.steady_now());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->count, 2u);  // m is five windows back: still covered
  clock.advance(59s);
  EXPECT_EQ(est.summary(clock.steady_now())->count, 2u);
  clock.advance(1s);  // minute m + 6: m drops out
  s = est.summary(clock.steady_now());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->count, 1u);
  EXPECT_NEAR(s->p99_ms, 1.0, 0.07);
  est.record(3ms, clock.steady_now());  // reuses m's slot, starting from zero
  EXPECT_EQ(est.summary(clock.steady_now())->count, 2u);
  clock.advance(5min);
  EXPECT_EQ(est.summary(clock.steady_now())->count, 1u);  // minute m+11: only m+6's sample
  clock.advance(1min);
  EXPECT_FALSE(est.summary(clock.steady_now()));
}

TEST(Latency, ManyThreadsLoseNothingWithinAMinute) {
  FakeClock clock;
  LatencyEstimator est;
  const auto now = clock.steady_now();
  est.record(1ms, now);  // the window is set up before the race
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&est, now, t] {
      for (int i = 0; i < 10000; ++i) est.record(std::chrono::microseconds(100 * (t + 1)), now);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(est.summary(now)->count, 40001u);
}

}  // namespace

namespace {

TEST(Latency, WindowsAreAllocatedByTheFirstSample) {
  LatencyEstimator e;
  const auto now = gatehouse::Clock::SteadyTime{} + 10min;
  EXPECT_FALSE(e.summary(now));
  EXPECT_FALSE(e.allocated());
  e.record(2ms, now);
  EXPECT_TRUE(e.allocated());
  ASSERT_TRUE(e.summary(now));
  EXPECT_EQ(e.summary(now)->count, 1u);
}

// Threads racing for the first sample: one set of windows wins, no sample is lost.
TEST(Latency, RacingFirstSamplesAllCount) {
  for (int round = 0; round < 20; ++round) {
    LatencyEstimator e;
    const auto now = gatehouse::Clock::SteadyTime{} + 10min;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 100; ++i) e.record(1ms, now);
      });
    for (auto& t : threads) t.join();
    ASSERT_TRUE(e.summary(now));
    EXPECT_EQ(e.summary(now)->count, 400u);
  }
}

}  // namespace
