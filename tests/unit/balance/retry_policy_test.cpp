// Retries (SPEC section 13): which failed tries may be retried, the per-try timeout,
// the same-server backoff and the choice of the server for a retry.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "balance/retry_policy.hpp"

namespace gatehouse::balance {
namespace {

using namespace std::chrono_literals;
using V = RetryVerdict;

config::Retries retries(std::uint32_t attempts) {
  config::Retries r;
  r.attempts = attempts;
  return r;
}

TryOutcome failed(Failure f, bool reached, int status = 0) {
  return TryOutcome{f, status, reached, false};
}

struct Row {
  const char* method;
  TryOutcome outcome;
  bool body_replayable;
  V expected;
};

TEST(RetryDecision, Table) {
  const RetryPolicy policy(retries(2), 30s);  // defaults: every failure, idempotent methods
  const std::vector<Row> rows = {
      // a connect failure: nothing reached the upstream, any method, any body
      {"GET", failed(Failure::connect_failure, false), true, V::retry},
      {"POST", failed(Failure::connect_failure, false), true, V::retry},
      {"PATCH", failed(Failure::connect_failure, false), false, V::retry},
      // reached the upstream: idempotent methods with a replayable body only
      {"GET", failed(Failure::reset, true), true, V::retry},
      {"GET", failed(Failure::timeout, true), true, V::retry},
      {"HEAD", failed(Failure::reset, true), true, V::retry},
      {"OPTIONS", failed(Failure::timeout, true), true, V::retry},
      {"DELETE", failed(Failure::reset, true), true, V::retry},
      {"PUT", failed(Failure::reset, true), true, V::retry},
      {"PUT", failed(Failure::reset, true), false, V::body_not_replayable},
      {"POST", failed(Failure::reset, true), true, V::method_not_retried},
      {"POST", failed(Failure::timeout, true), true, V::method_not_retried},
      {"PATCH", failed(Failure::reset, true), true, V::method_not_retried},
      {"POST", status_outcome(503), true, V::method_not_retried},
      {"get", failed(Failure::reset, true), true, V::method_not_retried},  // methods are exact
      // statuses: the listed ones only
      {"GET", status_outcome(502), true, V::retry},
      {"GET", status_outcome(503), true, V::retry},
      {"GET", status_outcome(504), true, V::retry},
      {"GET", status_outcome(500), true, V::not_retried_on},
      {"GET", status_outcome(429), true, V::not_retried_on},
      // a request that reached nothing, for a reset before any byte was written
      {"POST", failed(Failure::reset, false), false, V::retry},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(policy.decide(row.outcome, {row.method, row.body_replayable}, 0, 10s), row.expected)
        << row.method << " " << reason(row.outcome) << " reached=" << row.outcome.reached_upstream
        << " body_replayable=" << row.body_replayable;
  }
}

TEST(RetryDecision, NeverOnceTheResponseStarted) {
  const RetryPolicy policy(retries(5), 30s);
  for (Failure f : {Failure::connect_failure, Failure::reset, Failure::timeout, Failure::status}) {
    for (bool reached : {false, true}) {
      TryOutcome o{f, 503, reached, true};
      EXPECT_EQ(policy.decide(o, {"GET", true}, 0, 10s), V::response_started);
    }
  }
}

TEST(RetryDecision, AttemptsCountRetriesAfterTheFirstTry) {
  const auto reset = failed(Failure::reset, true);
  EXPECT_EQ(RetryPolicy(retries(0), 30s).decide(reset, {"GET", true}, 0, 10s),
            V::no_attempts_left);
  const RetryPolicy two(retries(2), 30s);
  EXPECT_EQ(two.decide(reset, {"GET", true}, 0, 10s), V::retry);
  EXPECT_EQ(two.decide(reset, {"GET", true}, 1, 10s), V::retry);
  EXPECT_EQ(two.decide(reset, {"GET", true}, 2, 10s), V::no_attempts_left);
  EXPECT_FALSE(RetryPolicy(retries(0), 30s).enabled());
  EXPECT_TRUE(two.enabled());
  // A policy without attempts retries nothing, whatever its lists say.
  EXPECT_FALSE(RetryPolicy(retries(0), 30s).retries_on(reset));
  EXPECT_FALSE(RetryPolicy(retries(0), 30s).method_retried("GET"));
  EXPECT_TRUE(two.method_retried("GET"));
}

TEST(RetryDecision, OnAndMethodsAsConfigured) {
  config::Retries r = retries(1);
  r.on_connect_failure = false;
  r.on_reset = true;
  r.on_timeout = false;
  r.on_statuses = {503};
  r.methods = {"GET", "POST"};
  const RetryPolicy policy(r, 30s);
  EXPECT_EQ(policy.decide(failed(Failure::connect_failure, false), {"GET", true}, 0, 10s),
            V::not_retried_on);
  EXPECT_EQ(policy.decide(failed(Failure::timeout, true), {"GET", true}, 0, 10s),
            V::not_retried_on);
  EXPECT_EQ(policy.decide(status_outcome(502), {"GET", true}, 0, 10s), V::not_retried_on);
  EXPECT_EQ(policy.decide(status_outcome(503), {"POST", true}, 0, 10s), V::retry);
  EXPECT_EQ(policy.decide(failed(Failure::reset, true), {"POST", true}, 0, 10s), V::retry);
  EXPECT_EQ(policy.decide(failed(Failure::reset, true), {"PUT", true}, 0, 10s),
            V::method_not_retried);
  // methods: [] still retries what reached no upstream
  r.methods.clear();
  r.on_connect_failure = true;
  const RetryPolicy none(r, 30s);
  EXPECT_EQ(none.decide(failed(Failure::connect_failure, false), {"GET", true}, 0, 10s),
            V::retry);
  EXPECT_EQ(none.decide(failed(Failure::reset, true), {"GET", true}, 0, 10s),
            V::method_not_retried);
}

TEST(RetryDecision, NoRetryWithoutTimeLeft) {
  const RetryPolicy policy(retries(3), 30s);
  EXPECT_EQ(policy.decide(failed(Failure::reset, true), {"GET", true}, 0, 0ms), V::no_time_left);
  EXPECT_EQ(policy.decide(failed(Failure::reset, true), {"GET", true}, 0, -5ms), V::no_time_left);
  EXPECT_EQ(policy.decide(failed(Failure::reset, true), {"GET", true}, 0, 1ms), V::retry);
}

TEST(RetryBody, ReplayableOnlyWhenReadWholeAndSmall) {
  EXPECT_TRUE(body_replayable(false, false, 0));
  EXPECT_TRUE(body_replayable(true, true, 0));
  EXPECT_TRUE(body_replayable(true, true, 64 * 1024));
  EXPECT_FALSE(body_replayable(true, true, 64 * 1024 + 1));
  EXPECT_FALSE(body_replayable(true, false, 10));  // still streaming
  EXPECT_EQ(kMaxRetryBody, 65536u);
}

TEST(RetryReason, MetricLabels) {
  EXPECT_EQ(reason(failed(Failure::connect_failure, false)), "connect_failure");
  EXPECT_EQ(reason(failed(Failure::reset, true)), "reset");
  EXPECT_EQ(reason(failed(Failure::timeout, true)), "timeout");
  EXPECT_EQ(reason(status_outcome(502)), "502");
  EXPECT_EQ(reason(status_outcome(504)), "504");
  EXPECT_EQ(reason(status_outcome(100)), "100");
  EXPECT_EQ(reason(status_outcome(599)), "599");
  EXPECT_EQ(reason(status_outcome(42)), "status");
  EXPECT_EQ(to_string(V::body_not_replayable), "body_not_replayable");
}

TEST(PerTryTimeout, WithinTheEndpointTimeout) {
  config::Retries r = retries(2);
  EXPECT_EQ(RetryPolicy(r, 30s).try_timeout(30s), 30s);  // default: the endpoint's timeout
  EXPECT_EQ(RetryPolicy(r, 30s).try_timeout(12s), 12s);  // what is left of it
  r.per_try_timeout = 5s;
  const RetryPolicy policy(r, 30s);
  EXPECT_EQ(policy.try_timeout(30s), 5s);
  EXPECT_EQ(policy.try_timeout(3s), 3s);
  EXPECT_EQ(policy.try_timeout(-1s), 0s);
  r.per_try_timeout = 60s;  // longer than the timeout: the timeout wins
  EXPECT_EQ(RetryPolicy(r, 30s).try_timeout(30s), 30s);
}

TEST(Backoff, JitteredWithin25To250Milliseconds) {
  Rng rng(11);
  for (std::uint32_t n = 0; n < 12; ++n) {
    std::set<std::int64_t> seen;
    Duration highest{0};
    for (int i = 0; i < 2000; ++i) {
      const Duration d = retry_backoff(n, rng);
      ASSERT_GE(d, 25ms) << n;
      ASSERT_LE(d, 250ms) << n;
      seen.insert(d.count());
      highest = std::max(highest, d);
    }
    EXPECT_GT(seen.size(), 20u) << "jittered, not a fixed delay";
    // The upper end grows with each retry to the same server, up to 250 ms.
    const Duration bound = std::min<Duration>(250ms, Duration{50 << n});
    EXPECT_LE(highest, bound) << n;
    EXPECT_GE(highest, bound - 10ms) << n;
  }
}

std::unique_ptr<Balancer> round_robin(std::size_t n) {
  BalancerSpec s;
  for (std::size_t i = 0; i < n; ++i) s.servers.push_back({1, "http://h" + std::to_string(i)});
  return make_balancer(s);
}

TEST(RetryPick, ADifferentServerFirstThenTheSameWithBackoff) {
  auto b = round_robin(3);
  const std::vector<bool> all(3, true);
  TriedServers tried;
  const std::size_t first = b->pick(0, Availability(all));
  tried.add(first);
  const RetryPick second = pick_for_retry(*b, 0, Availability(all), std::nullopt, tried);
  EXPECT_NE(second.server, first);
  EXPECT_FALSE(second.same_server);
  tried.add(second.server);
  const RetryPick third = pick_for_retry(*b, 0, Availability(all), std::nullopt, tried);
  EXPECT_FALSE(tried.contains(third.server));
  EXPECT_FALSE(third.same_server);
  tried.add(third.server);
  const RetryPick fourth = pick_for_retry(*b, 0, Availability(all), std::nullopt, tried);
  EXPECT_NE(fourth.server, kNone);
  EXPECT_TRUE(fourth.same_server);
  // Only the first server is available: the retry goes back to it, with a backoff.
  const std::vector<bool> only_first = {first == 0, first == 1, first == 2};
  TriedServers just_first;
  just_first.add(first);
  const RetryPick back = pick_for_retry(*b, 0, Availability(only_first), std::nullopt, just_first);
  EXPECT_EQ(back.server, first);
  EXPECT_TRUE(back.same_server);
  const std::vector<bool> none(3, false);
  EXPECT_EQ(pick_for_retry(*b, 0, Availability(none), std::nullopt, tried).server, kNone);
}

TEST(TriedServers, BeyondSixtyFour) {
  TriedServers t;
  EXPECT_TRUE(t.empty());
  t.add(3);
  t.add(63);
  t.add(64);
  t.add(200);
  EXPECT_FALSE(t.empty());
  for (std::size_t i : {3u, 63u, 64u, 200u}) EXPECT_TRUE(t.contains(i)) << i;
  for (std::size_t i : {0u, 62u, 65u, 199u, 201u, 5000u}) EXPECT_FALSE(t.contains(i)) << i;
}

}  // namespace
}  // namespace gatehouse::balance
