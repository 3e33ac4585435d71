// random (SPEC section 13): each available server with probability weight / sum of the
// available weights; fixed seeds make the runs repeatable.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "balance/balancer.hpp"
#include "balance/rng.hpp"

namespace gatehouse::balance {
namespace {

std::unique_ptr<Balancer> weighted_random(std::vector<std::uint32_t> weights, std::uint64_t seed) {
  BalancerSpec s;
  s.policy = config::LoadBalancing::random;
  s.seed = seed;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    s.servers.push_back({weights[i], "http://10.0.2." + std::to_string(i + 1) + ":80"});
  }
  return make_balancer(s);
}

// Each count within 5 standard deviations of its binomial expectation: a correct
// generator fails this about once in 10^6 runs, a wrong weighting (even 2% off at
// these counts) every time.
void expect_distribution(const std::vector<int>& counts, const std::vector<double>& p, int n) {
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double mean = n * p[i];
    const double sd = std::sqrt(n * p[i] * (1 - p[i]));
    EXPECT_NEAR(counts[i], mean, 5 * sd + 1e-9) << "server " << i;
  }
}

TEST(WeightedRandom, FollowsTheWeights) {
  for (std::uint64_t seed : {1ULL, 7ULL, 12345ULL}) {
    auto b = weighted_random({1, 2, 7}, seed);
    const std::vector<bool> all(3, true);
    constexpr int kN = 200000;
    std::vector<int> counts(3, 0);
    for (int i = 0; i < kN; ++i) ++counts[b->pick(0, Availability(all))];
    expect_distribution(counts, {0.1, 0.2, 0.7}, kN);
  }
}

TEST(WeightedRandom, RenormalisesOverTheAvailableServers) {
  auto b = weighted_random({1, 2, 7}, 99);
  const std::vector<bool> without_2{true, true, false};
  constexpr int kN = 100000;
  std::vector<int> counts(3, 0);
  for (int i = 0; i < kN; ++i) ++counts[b->pick(0, Availability(without_2))];
  EXPECT_EQ(counts[2], 0);
  expect_distribution(counts, {1.0 / 3, 2.0 / 3, 0.0}, kN);
  const std::vector<bool> none(3, false);
  EXPECT_EQ(b->pick(0, Availability(none)), kNone);
}

TEST(WeightedRandom, SameSeedSameSequence) {
  auto a = weighted_random({1, 1, 1, 1}, 5);
  auto b = weighted_random({1, 1, 1, 1}, 5);
  auto c = weighted_random({1, 1, 1, 1}, 6);
  const std::vector<bool> all(4, true);
  std::vector<std::size_t> sa, sb, sc;
  for (int i = 0; i < 64; ++i) {
    sa.push_back(a->pick(0, Availability(all)));
    sb.push_back(b->pick(0, Availability(all)));
    sc.push_back(c->pick(0, Availability(all)));
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc);
}

TEST(Rng, BelowStaysInRangeAndCoversIt) {
  Rng rng(3);
  std::vector<int> seen(7, 0);
  for (int i = 0; i < 7000; ++i) {
    const auto v = rng.below(7);
    ASSERT_LT(v, 7u);
    ++seen[v];
  }
  for (int c : seen) EXPECT_GT(c, 800);
}

}  // namespace
}  // namespace gatehouse::balance
