// round_robin (SPEC section 13): smooth weighted round robin, exact over every window of
// sum(weights) consecutive picks, unavailable servers skipped.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "balance/balancer.hpp"
#include "balance/smooth_weighted.hpp"

namespace gatehouse::balance {
namespace {

BalancerSpec spec(config::LoadBalancing policy, std::vector<std::uint32_t> weights,
                  unsigned shards = 1) {
  BalancerSpec s;
  s.policy = policy;
  s.shards = shards;
  s.seed = 42;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    s.servers.push_back({weights[i], "http://10.0.0." + std::to_string(i + 1) + ":80"});
  }
  return s;
}

std::vector<std::size_t> picks(Balancer& b, std::size_t n, const Availability& available,
                               unsigned shard = 0) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(b.pick(shard, available));
  return out;
}

// Every window of `window` consecutive picks (sliding, not only aligned ones) gives
// server i exactly expected[i] picks.
void expect_exact_windows(const std::vector<std::size_t>& seq, std::size_t window,
                          const std::vector<std::uint32_t>& expected) {
  ASSERT_GE(seq.size(), window);
  for (std::size_t start = 0; start + window <= seq.size(); ++start) {
    std::vector<std::uint32_t> count(expected.size(), 0);
    for (std::size_t i = start; i < start + window; ++i) {
      ASSERT_LT(seq[i], expected.size());
      ++count[seq[i]];
    }
    ASSERT_EQ(count, expected) << "window starting at pick " << start;
  }
}

const std::vector<bool> kAll(16, true);

TEST(RoundRobin, SpreadsEvenWeightsInOrder) {
  auto b = make_balancer(spec(config::LoadBalancing::round_robin, {1, 1, 1}));
  EXPECT_EQ(picks(*b, 7, Availability(kAll)), (std::vector<std::size_t>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(RoundRobin, SmoothSequenceOfNginx) {
  // weights 5,1,1: a a b a c a a (not a a a a a b c)
  auto b = make_balancer(spec(config::LoadBalancing::round_robin, {5, 1, 1}));
  EXPECT_EQ(picks(*b, 14, Availability(kAll)),
            (std::vector<std::size_t>{0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0}));
}

TEST(RoundRobin, ExactOverEveryWindowWithMixedWeights) {
  for (const auto& weights : std::vector<std::vector<std::uint32_t>>{
           {5, 1, 1}, {3, 2, 1}, {1, 2, 3, 4}, {7, 7, 1}, {10, 1}, {2, 3, 5, 7, 11}, {1}}) {
    std::uint32_t total = 0;
    for (auto w : weights) total += w;
    auto b = make_balancer(spec(config::LoadBalancing::round_robin, weights));
    SCOPED_TRACE(::testing::PrintToString(weights));
    expect_exact_windows(picks(*b, total * 6, Availability(kAll)), total, weights);
  }
}

TEST(RoundRobin, SkipsAnUnavailableServerAndStaysExact) {
  const std::vector<std::uint32_t> weights{3, 2, 4, 1};
  auto b = make_balancer(spec(config::LoadBalancing::round_robin, weights));
  // Some traffic with all four, then server 2 goes away mid-sequence.
  picks(*b, 5, Availability(kAll));
  const std::vector<bool> without_2{true, true, false, true};
  const auto seq = picks(*b, 6 * 6, Availability(without_2));
  expect_exact_windows(seq, 6, {3, 2, 0, 1});
  // It comes back: exact over the full weight sum again.
  expect_exact_windows(picks(*b, 10 * 5, Availability(kAll)), 10, weights);
}

TEST(RoundRobin, NoServerAvailable) {
  auto b = make_balancer(spec(config::LoadBalancing::round_robin, {1, 2}));
  const std::vector<bool> none{false, false};
  EXPECT_EQ(b->pick(0, Availability(none)), kNone);
  EXPECT_EQ(b->pick_retry(0, Availability(none)), kNone);
}

TEST(RoundRobin, AvailabilityFromAPredicate) {
  auto b = make_balancer(spec(config::LoadBalancing::round_robin, {1, 1, 1, 1}));
  const auto odd = [](std::size_t i) { return i % 2 == 1; };
  EXPECT_EQ(picks(*b, 4, Availability::of(odd)), (std::vector<std::size_t>{1, 3, 1, 3}));
}

TEST(RoundRobin, RetryPicksDoNotDisturbTheSequence) {
  const std::vector<std::uint32_t> weights{2, 1, 1};
  auto b = make_balancer(spec(config::LoadBalancing::round_robin, weights));
  std::vector<std::size_t> seq;
  for (int i = 0; i < 40; ++i) {
    const std::size_t first = b->pick(0, Availability(kAll));
    seq.push_back(first);
    // A retry elsewhere after every request: not part of the request sequence.
    const auto other = [first](std::size_t j) { return j != first; };
    const std::size_t retry = b->pick_retry(0, Availability::of(other));
    EXPECT_NE(retry, first);
    EXPECT_NE(retry, kNone);
  }
  expect_exact_windows(seq, 4, weights);
}

TEST(RoundRobin, EachShardKeepsItsOwnExactSequence) {
  const std::vector<std::uint32_t> weights{3, 1};
  auto b = make_balancer(spec(config::LoadBalancing::round_robin, weights, 2));
  std::vector<std::size_t> shard0, shard1;
  for (int i = 0; i < 40; ++i) {
    shard0.push_back(b->pick(0, Availability(kAll)));
    if (i % 3 == 0) shard1.push_back(b->pick(1, Availability(kAll)));
  }
  expect_exact_windows(shard0, 4, weights);
  expect_exact_windows(shard1, 4, weights);
}

TEST(SmoothWeighted, PeekIsWhatPickWouldChooseAndChangesNothing) {
  const std::vector<std::uint32_t> weights{5, 1, 1};
  SmoothWeighted a(weights, true);
  SmoothWeighted b(weights, true);
  const std::vector<bool> all(3, true);
  for (int i = 0; i < 21; ++i) {
    EXPECT_EQ(a.peek(Availability(all)), a.peek(Availability(all)));
    EXPECT_EQ(a.peek(Availability(all)), b.pick(Availability(all)));
    a.pick(Availability(all));
  }
}

TEST(BalancerSpec, FromAnEndpoint) {
  config::Endpoint ep;
  ep.url.text = "http://A.example:9001/api";
  ep.url.host = "A.example";
  ep.url.port = 9001;
  BalancerSpec s = spec_of(ep, 3);
  ASSERT_EQ(s.servers.size(), 1u);  // no `servers`: the url is the one server
  EXPECT_EQ(s.servers[0].identity, "http://a.example:9001");
  EXPECT_EQ(s.shards, 3u);
  config::Server other;
  other.url.https = true;
  other.url.host = "::1";
  other.url.port = 8443;
  other.weight = 4;
  ep.servers = {config::Server{ep.url, 1}, other};
  ep.load_balancing = config::LoadBalancing::least_request;
  s = spec_of(ep, 1);
  ASSERT_EQ(s.servers.size(), 2u);
  EXPECT_EQ(s.servers[1].identity, "https://[::1]:8443");
  EXPECT_EQ(s.servers[1].weight, 4u);
  EXPECT_EQ(s.policy, config::LoadBalancing::least_request);
  EXPECT_EQ(to_string(s.policy), "least_request");
}

}  // namespace
}  // namespace gatehouse::balance

namespace gatehouse::balance {
namespace {

// One server: every policy sends each request and retry there while it is available
// (without per-thread state: most endpoints of a large table have one server).
TEST(OneServer, EveryPolicyPicksItWhileAvailable) {
  for (auto policy : {config::LoadBalancing::round_robin, config::LoadBalancing::least_request,
                      config::LoadBalancing::random, config::LoadBalancing::hash}) {
    auto b = make_balancer(spec(policy, {3}, 4));
    const std::vector<bool> up{true}, down{false};
    for (unsigned shard = 0; shard < 4; ++shard) {
      EXPECT_EQ(b->pick(shard, Availability(up)), 0u) << to_string(policy);
      EXPECT_EQ(b->pick(shard, Availability(up), "key"), 0u) << to_string(policy);
      EXPECT_EQ(b->pick_retry(shard, Availability(up)), 0u) << to_string(policy);
      EXPECT_EQ(b->pick(shard, Availability(down)), kNone) << to_string(policy);
      EXPECT_EQ(b->pick_retry(shard, Availability(down), "key"), kNone) << to_string(policy);
    }
    b->begin(0);
    EXPECT_EQ(b->in_flight(0), 1u);
    b->end(0);
    EXPECT_EQ(b->size(), 1u);
  }
}

}  // namespace
}  // namespace gatehouse::balance
