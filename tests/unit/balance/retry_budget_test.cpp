// The retry budget (SPEC section 13): at most `budget` of the endpoint's client requests
// over the last 10 s, with a floor of 30 retries per 10 s; retries are not requests.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "balance/retry_budget.hpp"

namespace gatehouse::balance {
namespace {

using namespace std::chrono_literals;

int acquire_all(RetryBudget& b, unsigned shard = 0, int limit = 100000) {
  int n = 0;
  while (n < limit && b.try_acquire(shard)) ++n;
  return n;
}

TEST(RetryBudget, FloorOfThirtyPerTenSecondsWithoutTraffic) {
  FakeClock clock;
  RetryBudget b(0.2, 1, clock);
  EXPECT_EQ(b.allowed(clock.steady_now()), 30u);
  EXPECT_EQ(acquire_all(b), 30);
  EXPECT_FALSE(b.try_acquire(0));
  EXPECT_EQ(b.retries(clock.steady_now()), 30u);
}

TEST(RetryBudget, FractionOfTheRequests) {
  FakeClock clock;
  RetryBudget b(0.2, 1, clock);
  for (int i = 0; i < 1000; ++i) b.on_request(0);
  EXPECT_EQ(b.requests(clock.steady_now()), 1000u);
  EXPECT_EQ(b.allowed(clock.steady_now()), 200u);
  EXPECT_EQ(acquire_all(b), 200);
  // Retries are not requests: the allowance did not grow with them.
  EXPECT_EQ(b.requests(clock.steady_now()), 1000u);
  // More requests, more room.
  for (int i = 0; i < 10; ++i) b.on_request(0);
  EXPECT_EQ(acquire_all(b), 2);
}

TEST(RetryBudget, SmallTrafficStillGetsTheFloor) {
  FakeClock clock;
  RetryBudget b(0.2, 1, clock);
  for (int i = 0; i < 100; ++i) b.on_request(0);  // 20% would be 20
  EXPECT_EQ(acquire_all(b), 30);
}

TEST(RetryBudget, ZeroAndFullShares) {
  FakeClock clock;
  RetryBudget none(0.0, 1, clock);
  for (int i = 0; i < 1000; ++i) none.on_request(0);
  EXPECT_EQ(acquire_all(none), 30);  // 0% still has the floor
  RetryBudget all(1.0, 1, clock);
  for (int i = 0; i < 1000; ++i) all.on_request(0);
  EXPECT_EQ(acquire_all(all), 1000);
}

TEST(RetryBudget, TheWindowSlidesOverTenSeconds) {
  FakeClock clock;
  RetryBudget b(0.5, 1, clock);
  for (int i = 0; i < 200; ++i) b.on_request(0);  // second 0: 200 requests
  EXPECT_EQ(acquire_all(b), 100);
  clock.advance(5s);
  EXPECT_FALSE(b.try_acquire(0));  // still inside the window
  for (int i = 0; i < 100; ++i) b.on_request(0);  // second 5: 100 more
  EXPECT_EQ(acquire_all(b), 50);
  clock.advance(5s);  // second 10: second 0 has left the window, with its 100 retries
  EXPECT_EQ(b.requests(clock.steady_now()), 100u);
  EXPECT_EQ(b.retries(clock.steady_now()), 50u);
  EXPECT_FALSE(b.try_acquire(0));  // 50 retries = 50% of 100, and above the floor of 30
  clock.advance(5s);  // second 15: everything has left the window
  EXPECT_EQ(b.requests(clock.steady_now()), 0u);
  EXPECT_EQ(acquire_all(b), 30);
  clock.advance(100s);  // long idle: old slots are never counted again
  EXPECT_EQ(b.retries(clock.steady_now()), 0u);
  EXPECT_EQ(acquire_all(b), 30);
}

TEST(RetryBudget, ShardsAddUp) {
  FakeClock clock;
  RetryBudget b(0.1, 3, clock);
  for (unsigned s = 0; s < 3; ++s) {
    for (int i = 0; i < 500; ++i) b.on_request(s);
  }
  EXPECT_EQ(b.requests(clock.steady_now()), 1500u);
  EXPECT_EQ(acquire_all(b, 0, 100), 100);
  EXPECT_EQ(acquire_all(b, 2), 50);  // 150 in all, whichever shard asks
  EXPECT_FALSE(b.try_acquire(1));
}

// A retry taken and then not made (every server refused it) goes back to the budget.
TEST(RetryBudget, ARefundedRetryIsNotCounted) {
  FakeClock clock;
  RetryBudget b(0.2, 2, clock);
  EXPECT_EQ(acquire_all(b, 1), 30);
  b.refund(1, clock.steady_now());
  EXPECT_EQ(b.retries(clock.steady_now()), 29u);
  EXPECT_TRUE(b.try_acquire(1));
  EXPECT_FALSE(b.try_acquire(1));
  // A refund of another second's retry, or from a shard that took none, changes nothing.
  const auto earlier = clock.steady_now() - 1s;
  b.refund(1, earlier);
  b.refund(0, clock.steady_now());
  EXPECT_EQ(b.retries(clock.steady_now()), 30u);
}

// Concurrent retries on several threads stay within the cap, plus at most one per
// thread racing past the check.
TEST(RetryBudgetConcurrent, TheCapHoldsAcrossThreads) {
  FakeClock clock;
  constexpr unsigned kThreads = 4;
  RetryBudget b(0.2, kThreads, clock);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) {
        b.on_request(t);
        if (i % 2 == 0 && b.try_acquire(t)) granted.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(b.requests(clock.steady_now()), 20000u);
  EXPECT_LE(granted.load(), 4000 + static_cast<int>(kThreads));
  EXPECT_GE(granted.load(), 3900);  // the budget was in fact used up to its cap
  EXPECT_EQ(static_cast<std::uint64_t>(granted.load()), b.retries(clock.steady_now()));
}

}  // namespace
}  // namespace gatehouse::balance
