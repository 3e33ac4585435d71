// least_request (SPEC section 13): fewest requests in flight, process-wide; ties go
// round robin (weighted); unavailable servers skipped; counters are shared atomics.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <thread>
#include <vector>

#include "balance/balancer.hpp"

namespace gatehouse::balance {
namespace {

std::unique_ptr<Balancer> least_request(std::vector<std::uint32_t> weights, unsigned shards = 1) {
  BalancerSpec s;
  s.policy = config::LoadBalancing::least_request;
  s.shards = shards;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    s.servers.push_back({weights[i], "http://10.0.1." + std::to_string(i + 1) + ":80"});
  }
  return make_balancer(s);
}

const std::vector<bool> kAll(8, true);

TEST(LeastRequest, PicksTheServerWithFewestInFlight) {
  auto b = least_request({1, 1, 1});
  b->begin(0);
  b->begin(0);
  b->begin(1);
  EXPECT_EQ(b->pick(0, Availability(kAll)), 2u);
  b->begin(2);
  b->begin(2);
  EXPECT_EQ(b->pick(0, Availability(kAll)), 1u);  // 2, 1, 2 in flight
  b->end(0);
  b->end(0);
  EXPECT_EQ(b->pick(0, Availability(kAll)), 0u);  // 0, 1, 2
  EXPECT_EQ(b->in_flight(0), 0u);
  EXPECT_EQ(b->in_flight(1), 1u);
  EXPECT_EQ(b->in_flight(2), 2u);
}

TEST(LeastRequest, TiesGoRoundRobin) {
  auto b = least_request({1, 1, 1});
  std::vector<std::size_t> seq;
  for (int i = 0; i < 6; ++i) seq.push_back(b->pick(0, Availability(kAll)));
  EXPECT_EQ(seq, (std::vector<std::size_t>{0, 1, 2, 0, 1, 2}));
  // Ties among two of three: they alternate.
  b->begin(1);
  seq.clear();
  for (int i = 0; i < 4; ++i) seq.push_back(b->pick(0, Availability(kAll)));
  EXPECT_EQ(seq.size(), 4u);
  EXPECT_EQ(std::count(seq.begin(), seq.end(), 0u), 2);
  EXPECT_EQ(std::count(seq.begin(), seq.end(), 2u), 2);
  EXPECT_NE(seq[0], seq[1]);
}

TEST(LeastRequest, SequentialTrafficFollowsTheWeights) {
  auto b = least_request({3, 1});
  int counts[2] = {0, 0};
  for (int i = 0; i < 400; ++i) ++counts[b->pick(0, Availability(kAll))];
  EXPECT_EQ(counts[0], 300);
  EXPECT_EQ(counts[1], 100);
}

TEST(LeastRequest, SkipsUnavailableServersEvenWhenIdle) {
  auto b = least_request({1, 1, 1});
  b->begin(0);
  b->begin(0);
  b->begin(2);
  const std::vector<bool> only_0_and_2{true, false, true};
  EXPECT_EQ(b->pick(0, Availability(only_0_and_2)), 2u);
  const std::vector<bool> none{false, false, false};
  EXPECT_EQ(b->pick(0, Availability(none)), kNone);
  EXPECT_EQ(b->pick_retry(0, Availability(none)), kNone);
}

TEST(LeastRequest, RetryPickPrefersTheLeastLoadedUntried) {
  auto b = least_request({1, 1, 1});
  b->begin(1);
  const auto not_0 = [](std::size_t i) { return i != 0; };
  EXPECT_EQ(b->pick_retry(0, Availability::of(not_0)), 2u);
}

// Several threads pick, hold the request for a moment and end it; the shared counters
// see every begin and end (they all return to zero) and keep the load even.
TEST(LeastRequestConcurrent, ThreadsShareTheInFlightCounts) {
  constexpr unsigned kThreads = 4;
  constexpr int kRequests = 20000;
  auto b = least_request({1, 1, 1, 1}, kThreads);
  std::vector<std::array<int, 4>> per_thread(kThreads);
  std::atomic<std::uint32_t> max_spread{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::vector<bool> all(4, true);
      std::vector<std::size_t> held;
      for (int i = 0; i < kRequests; ++i) {
        const std::size_t s = b->pick(t, Availability(all));
        ASSERT_LT(s, 4u);
        b->begin(s);
        held.push_back(s);
        ++per_thread[t][s];
        if (held.size() == 3) {  // three requests in flight per thread at most
          b->end(held.front());
          held.erase(held.begin());
        }
        std::uint32_t lo = UINT32_MAX, hi = 0;
        for (std::size_t k = 0; k < 4; ++k) {
          lo = std::min(lo, b->in_flight(k));
          hi = std::max(hi, b->in_flight(k));
        }
        std::uint32_t seen = max_spread.load();
        while (hi - lo > seen && !max_spread.compare_exchange_weak(seen, hi - lo)) {
        }
      }
      for (std::size_t s : held) b->end(s);
    });
  }
  for (auto& th : threads) th.join();
  int total = 0;
  for (const auto& counts : per_thread) {
    for (int k = 0; k < 4; ++k) total += counts[k];
  }
  EXPECT_EQ(total, static_cast<int>(kThreads) * kRequests);
  // Every begin and end was seen: nothing is left in flight.
  for (std::size_t k = 0; k < 4; ++k) EXPECT_EQ(b->in_flight(k), 0u) << k;
  // At most 12 requests are ever in flight; the least-loaded choice keeps the servers
  // close (threads racing between reading the counts and starting their request may
  // pile onto one server for a moment, one request per racing thread).
  EXPECT_LE(max_spread.load(), kThreads + 1);
}

// A slow server holds its requests longer, so it has more in flight and gets fewer new
// ones: simulated ticks, one request arriving per tick, server 2 taking 6 ticks a request
// and the others 1 tick (round robin would give each a third).
TEST(LeastRequest, ASlowServerGetsFewerRequests) {
  auto b = least_request({1, 1, 1});
  const std::uint32_t duration[3] = {1, 1, 6};
  std::vector<std::pair<std::uint32_t, std::size_t>> running;  // (ends at tick, server)
  int counts[3] = {0, 0, 0};
  for (std::uint32_t tick = 0; tick < 3000; ++tick) {
    for (auto it = running.begin(); it != running.end();) {
      if (it->first <= tick) {
        b->end(it->second);
        it = running.erase(it);
      } else {
        ++it;
      }
    }
    for (int arrivals = 0; arrivals < 2; ++arrivals) {  // two per tick: some overlap
      const std::size_t s = b->pick(0, Availability(kAll));
      b->begin(s);
      running.emplace_back(tick + duration[s], s);
      ++counts[s];
    }
  }
  EXPECT_LT(counts[2], counts[0] / 2) << counts[0] << " " << counts[1] << " " << counts[2];
  EXPECT_NEAR(counts[0], counts[1], 30);
}

}  // namespace
}  // namespace gatehouse::balance
