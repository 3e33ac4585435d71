// The process-wide bucket table: separate keys, the bound on keys, the eviction order
// (idle full buckets first, then the least recently used), and threads sharing a bucket.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "ratelimit/bucket_table.hpp"
#include "ratelimit/limiter.hpp"

namespace gatehouse::ratelimit {
namespace {

using namespace std::chrono_literals;
constexpr std::int64_t kMs = 1'000'000;

// Built by appending: `name("k", i)` makes g++ 12 warn (-Wrestrict) about an
// overlap that cannot happen.
std::string name(std::string_view prefix, int i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

BucketParams params(std::uint64_t requests, config::Duration per, std::uint64_t burst = 0) {
  config::RateLimit rl;
  rl.requests = requests;
  rl.per = per;
  rl.burst = burst;
  return BucketParams::of(rl);
}

TEST(BucketTable, KeysHaveTheirOwnBuckets) {
  BucketTable t(1000);
  const auto p = params(1, 1s);
  EXPECT_TRUE(t.take("127.0.0.1", p, 0).allowed);
  EXPECT_FALSE(t.take("127.0.0.1", p, 0).allowed);
  EXPECT_TRUE(t.take("127.0.0.2", p, 0).allowed);
  EXPECT_TRUE(t.take("", p, 0).allowed) << "the empty key is a bucket too";
  EXPECT_FALSE(t.take("", p, 0).allowed);
  EXPECT_EQ(t.size(), 3u);
}

TEST(BucketTable, NeverHoldsMoreThanItsBound) {
  BucketTable t(1000);
  const auto p = params(10, 1s);
  for (int i = 0; i < 20000; ++i) t.take(name("key-", i), p, i * kMs);
  EXPECT_LE(t.size(), 1000u);
  EXPECT_EQ(t.capacity(), 1000u);
  EXPECT_GT(t.size(), 900u) << "the bound is used, not a fraction of it";
}

TEST(BucketTable, DefaultBoundIsOneHundredThousandKeys) {
  BucketTable t;
  EXPECT_EQ(t.capacity(), 100'000u);
}

TEST(BucketTable, EvictsIdleFullBucketsFirstThenLeastRecentlyUsed) {
  // One set of 8 slots: every key competes for the same slots.
  BucketTable t(BucketTable::kWays);
  const auto p = params(1, 10s);  // a used bucket stays not-full for 10 s
  std::int64_t now = 0;
  // k0..k7 used at 0, 10, 20... ms; k3 is then left 10 s idle so it refills (full).
  for (int i = 0; i < 8; ++i) {
    now = i * 10 * kMs;
    ASSERT_TRUE(t.take(name("k", i), p, now).allowed);
  }
  now = 10'000 * kMs + 35 * kMs;  // k0..k3 are full again, k4..k7 not yet
  for (int i : {0, 1, 2}) t.take(name("k", i), p, now);  // used again: not full
  // New keys: first the idle full k3, then the least recently used of k4..k7 (k4, k5).
  t.take("new1", p, now);
  EXPECT_FALSE(t.holds("k3"));
  for (int i : {0, 1, 2, 4, 5, 6, 7}) EXPECT_TRUE(t.holds(name("k", i))) << i;
  t.take("new2", p, now + kMs);
  EXPECT_FALSE(t.holds("k4"));
  t.take("new3", p, now + 2 * kMs);
  EXPECT_FALSE(t.holds("k5"));
  EXPECT_TRUE(t.holds("k6"));
  EXPECT_TRUE(t.holds("new1"));
  EXPECT_EQ(t.size(), 8u);
}

TEST(BucketTable, EvictedKeyComesBackWithAFullBucket) {
  BucketTable t(BucketTable::kWays);
  const auto p = params(1, 10s);
  for (int i = 0; i < 9; ++i) t.take(name("k", i), p, i * kMs);
  EXPECT_FALSE(t.holds("k0"));
  EXPECT_TRUE(t.take("k0", p, 20 * kMs).allowed);
}

TEST(BucketTableConcurrency, ThreadsHammeringOneBucketNeverExceedTheBound) {
  // 4 threads, 200,000 attempts each, one key; real time. Over the run's W seconds the
  // admitted count is at most burst + requests + requests * W / per (SPEC 14).
  config::RateLimit rl;
  rl.requests = 1000;
  rl.per = 1s;
  rl.burst = 100;
  Limiter limiter(rl, "e", RealClock::instance(), 1000);
  std::atomic<std::uint64_t> admitted{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::uint64_t mine = 0;
      for (int i = 0; i < 200'000; ++i)
        if (limiter.take_local("one").allowed) ++mine;
      admitted.fetch_add(mine);
    });
  }
  for (auto& th : threads) th.join();
  const double w = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LE(static_cast<double>(admitted.load()), 100 + 1000 + 1000 * w);
  EXPECT_GE(admitted.load(), 1100u) << "the whole bucket is admitted";
}

TEST(BucketTableConcurrency, ThreadsInsertingManyKeysKeepEachKeysCount) {
  // Each thread takes from its own keys and some shared ones; a fresh key admits
  // exactly capacity requests at one instant, however many threads race on it.
  BucketTable t(100'000);
  const auto p = params(5, 1h);
  std::atomic<int> over{0};
  std::vector<std::atomic<int>> per_key(500);
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round)
        for (int k = 0; k < 500; ++k)
          if (t.take(name("key", k), p, 0).allowed) per_key[k].fetch_add(1);
    });
  }
  for (auto& th : threads) th.join();
  for (int k = 0; k < 500; ++k)
    if (per_key[k].load() != 5) over.fetch_add(1);
  EXPECT_EQ(over.load(), 0);
}

TEST(Limiter, UsesTheInjectedClock) {
  FakeClock clock;
  config::RateLimit rl;
  rl.requests = 1;
  rl.per = 2s;
  Limiter limiter(rl, "e", clock);
  EXPECT_TRUE(limiter.take_local("a").allowed);
  const auto d = limiter.take_local("a");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 2u);
  clock.advance(1500ms);
  EXPECT_EQ(limiter.take_local("a").retry_after_s, 1u) << "0.5 s rounds up to 1";
  clock.advance(500ms);
  EXPECT_TRUE(limiter.take_local("a").allowed);
}

TEST(Limiter, RedisKeyIsNamespacedBySettings) {
  config::RateLimit rl;
  rl.requests = 100;
  rl.per = 1s;
  rl.burst = 50;
  rl.shared = true;
  Limiter limiter(rl, "users@v1", RealClock::instance());
  std::string key;
  limiter.redis_key("10.0.0.1", key);
  EXPECT_EQ(key, "gatehouse:rl:{users@v1}:100:1000:50:client_ip:10.0.0.1");
  EXPECT_EQ(limiter.capacity_arg(), "150");
  EXPECT_EQ(limiter.interval_us_arg(), "10000");
  EXPECT_EQ(limiter.table(), nullptr) << "shared limits keep no local buckets";
}

}  // namespace
}  // namespace gatehouse::ratelimit
