// Many threads on one breaker: half-open hands out exactly half_open_requests trials.
// Run under TSan too (-DGATEHOUSE_TSAN=ON).
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "health/breaker.hpp"

using namespace gatehouse;
using namespace gatehouse::health;
using namespace std::chrono_literals;
using Verdict = Admission::Verdict;

namespace {

constexpr int kThreads = 8;

TEST(BreakerConcurrency, HalfOpenAdmitsExactlyNUnderContention) {
  FakeClock clock;
  BreakerOptions o;
  o.failure_threshold = 1;
  o.reset_timeout = 10s;
  o.half_open_requests = 3;
  CircuitBreaker b(o, clock);

  std::barrier sync(kThreads + 1);
  std::atomic<int> trials{0};
  std::atomic<int> allowed{0};
  std::vector<Admission> held[kThreads];
  constexpr int kRounds = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        sync.arrive_and_wait();  // the main thread opened the breaker and made it due
        for (int i = 0; i < 200; ++i) {
          const Admission a = b.admit();
          if (a.verdict == Verdict::trial) {
            trials.fetch_add(1);
            held[t].push_back(a);
          } else if (a.verdict == Verdict::allowed) {
            allowed.fetch_add(1);
          }
        }
        sync.arrive_and_wait();  // the main thread counts
        sync.arrive_and_wait();  // each thread reports its trials, all successful
        for (const Admission& a : held[t]) b.record(a, true);
        held[t].clear();
        sync.arrive_and_wait();
      }
    });

  for (int round = 0; round < kRounds; ++round) {
    ASSERT_EQ(b.state(), BreakerState::closed);
    const Admission a = b.admit();
    b.record(a, false);  // threshold 1: open
    ASSERT_EQ(b.state(), BreakerState::open);
    clock.advance(10s);
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    ASSERT_EQ(trials.load(), 3) << "round " << round;
    ASSERT_EQ(allowed.load(), 0) << "round " << round;
    ASSERT_EQ(b.state(), BreakerState::half_open);
    trials.store(0);
    sync.arrive_and_wait();
    sync.arrive_and_wait();
    ASSERT_EQ(b.state(), BreakerState::closed) << "round " << round;
  }
  for (auto& th : threads) th.join();
}

// Free-running: threads admit and record random outcomes while the clock moves and
// the breaker cycles. Every half-open period (identified by its epoch) must have handed
// out at most N trials, and a period that closed must have had exactly N successes.
TEST(BreakerConcurrency, EveryHalfOpenPeriodStaysWithinN) {
  FakeClock clock;
  BreakerOptions o;
  o.failure_threshold = 3;
  o.reset_timeout = 1s;
  o.half_open_requests = 4;
  std::atomic<int> transitions{0};
  std::atomic<int> closes{0};
  CircuitBreaker b(o, clock, [&](const BreakerTransition& t) {
    transitions.fetch_add(1);
    if (t.to == BreakerState::closed) closes.fetch_add(1);
  });

  std::atomic<bool> done{false};
  std::mutex trials_mutex;
  std::map<std::uint32_t, int> trials_per_epoch;
  std::map<std::uint32_t, int> successes_per_epoch;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 1);
      std::map<std::uint32_t, int> mine, mine_ok;
      while (!done.load(std::memory_order_relaxed)) {
        const Admission a = b.admit();
        if (!a.admitted()) {
          std::this_thread::yield();  // leave the CPU to the clock-moving thread
          continue;
        }
        const bool ok = (rng() % 4) != 0;  // 25% failures
        if (a.verdict == Verdict::trial) {
          ++mine[a.epoch];
          if (ok) ++mine_ok[a.epoch];
        }
        b.record(a, ok);
      }
      std::lock_guard lock(trials_mutex);
      for (auto [e, n] : mine) trials_per_epoch[e] += n;
      for (auto [e, n] : mine_ok) successes_per_epoch[e] += n;
    });
  // Until enough cycles happened (bounded, in case the machine is very slow).
  for (int i = 0; i < 200000 && transitions.load() < 600; ++i) {
    clock.advance(250ms);
    std::this_thread::yield();
  }
  done.store(true);
  for (auto& th : threads) th.join();

  ASSERT_FALSE(trials_per_epoch.empty()) << "the breaker never went half-open";
  int full_periods = 0;
  for (auto [epoch, n] : trials_per_epoch) {
    EXPECT_LE(n, 4) << "epoch " << epoch;
    if (n == 4) ++full_periods;
  }
  EXPECT_GT(full_periods, 0);
  EXPECT_GT(transitions.load(), 3);
  // A period closes exactly when its 4 trials all succeeded.
  int all_ok_periods = 0;
  for (auto [epoch, n] : successes_per_epoch) {
    EXPECT_LE(n, 4);
    if (n == 4) ++all_ok_periods;
  }
  EXPECT_EQ(closes.load(), all_ok_periods);
}

TEST(BreakerConcurrency, ClosedStateCountsFailuresFromAllThreads) {
  FakeClock clock;
  BreakerOptions o;
  o.failure_threshold = 1000000;
  CircuitBreaker b(o, clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) b.record(b.admit(), false);
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(b.consecutive_failures(), static_cast<std::uint32_t>(kThreads * 10000));
  EXPECT_EQ(b.state(), BreakerState::closed);
}

}  // namespace
