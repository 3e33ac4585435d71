// The bucket arithmetic of SPEC 14: capacity requests + burst, refill at requests per
// `per`, Retry-After and RateLimit-Reset rounded up, RateLimit-Remaining rounded down.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ratelimit/bucket.hpp"
#include "ratelimit/headers.hpp"

namespace gatehouse::ratelimit {
namespace {

using namespace std::chrono_literals;
constexpr std::int64_t kS = 1'000'000'000;

BucketParams params(std::uint64_t requests, config::Duration per, std::uint64_t burst) {
  config::RateLimit rl;
  rl.requests = requests;
  rl.per = per;
  rl.burst = burst;
  return BucketParams::of(rl);
}

TEST(Bucket, FullWhenFirstUsedThenEmptiesAfterCapacity) {
  const auto p = params(10, 1s, 5);
  std::int64_t tat = 0;
  const std::int64_t now = 100 * kS;
  Decision d;
  for (int i = 0; i < 15; ++i) {
    tat = take(p, tat, now, d);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, static_cast<std::uint64_t>(14 - i));
  }
  const auto before = tat;
  tat = take(p, tat, now, d);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(tat, before) << "a refused request leaves the bucket as it was";
  EXPECT_EQ(d.remaining, 0u);
  EXPECT_EQ(d.retry_after_s, 1u) << "100 ms until a token, rounded up";
  EXPECT_EQ(d.reset_s, 2u) << "1.5 s until full, rounded up";
}

TEST(Bucket, RefillsAtRequestsPerPer) {
  const auto p = params(2, 10s, 0);  // one token every 5 s
  std::int64_t tat = 0;
  std::int64_t now = 50 * kS;
  Decision d;
  tat = take(p, tat, now, d);
  tat = take(p, tat, now, d);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.reset_s, 10u);
  tat = take(p, tat, now, d);
  ASSERT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 5u);
  now += 5 * kS - 1;
  tat = take(p, tat, now, d);
  EXPECT_FALSE(d.allowed) << "one nanosecond short of the token";
  EXPECT_EQ(d.retry_after_s, 1u) << "at least 1";
  now += 1;
  tat = take(p, tat, now, d);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0u);
  now += 100 * kS;  // long idle: full, never over capacity
  tat = take(p, tat, now, d);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 1u);
}

TEST(Bucket, RemainingRoundsDownAndResetRoundsUp) {
  const auto p = params(4, 1s, 0);  // a token every 250 ms
  std::int64_t tat = 0;
  std::int64_t now = 10 * kS;
  Decision d;
  for (int i = 0; i < 4; ++i) tat = take(p, tat, now, d);
  now += 300'000'000;  // 1.2 tokens back
  tat = take(p, tat, now, d);
  ASSERT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0u) << "0.2 of a token left is none";
  EXPECT_EQ(d.reset_s, 1u) << "0.95 s until full";
}

TEST(Bucket, IntervalIsRoundedUpSoTheRateNeverExceedsTheConfig) {
  const auto p = params(3, 1s, 0);
  EXPECT_EQ(p.interval_ns, 333'333'334);
  EXPECT_EQ(p.capacity, 3);
  EXPECT_EQ(p.limit, 3u);
}

TEST(Bucket, AccuracyOverAnyWindow) {
  // Requests every millisecond for 20 s: admitted in [0, W] <= burst + requests + requests * W / per.
  const auto p = params(50, 1s, 10);
  std::int64_t tat = 0;
  Decision d;
  std::uint64_t admitted = 0;
  for (std::int64_t ms = 0; ms <= 20'000; ++ms) {
    tat = take(p, tat, ms * 1'000'000, d);
    if (d.allowed) ++admitted;
    ASSERT_LE(admitted * 1000, (10 + 50) * 1000 + 50 * static_cast<std::uint64_t>(ms)) << ms;
  }
  EXPECT_GE(admitted, 60u + 50u * 20u - 1u) << "and it does admit the configured rate";
}

TEST(HeaderBlock, Formats) {
  HeaderBlock h;
  EXPECT_TRUE(h.empty());
  Decision d;
  d.remaining = 7;
  d.reset_s = 3;
  h.set(HeaderBlock::limit_fields_of(100), d);
  EXPECT_EQ(h.view(), "RateLimit-Limit: 100\r\nRateLimit-Remaining: 7\r\nRateLimit-Reset: 3\r\n");
  char buf[32];
  EXPECT_EQ(std::string_view(buf, format_retry_after(12, buf)), "Retry-After: 12\r\n");
}

// The fields' numbers against std::to_string, at every digit count and its edges.
TEST(HeaderBlock, NumbersOfEveryLength) {
  HeaderBlock h;
  std::vector<std::uint64_t> values{0, 1, 9, 10, 11, 99, 100, 101, UINT64_MAX, UINT64_MAX - 1};
  for (std::uint64_t p = 10; p <= 10'000'000'000'000'000'000ull; p *= 10) {
    values.push_back(p - 1);
    values.push_back(p);
    values.push_back(p + 7);
    if (p > UINT64_MAX / 10) break;
  }
  for (const auto v : values) {
    Decision d;
    d.remaining = v;
    d.reset_s = UINT64_MAX - v;
    h.set(HeaderBlock::limit_fields_of(v), d);
    EXPECT_EQ(h.view(), "RateLimit-Limit: " + std::to_string(v) + "\r\nRateLimit-Remaining: " +
                            std::to_string(v) + "\r\nRateLimit-Reset: " +
                            std::to_string(UINT64_MAX - v) + "\r\n")
        << v;
  }
}

}  // namespace
}  // namespace gatehouse::ratelimit
