#include "health/endpoint_state.hpp"
#include "health/endpoint_stats.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace gatehouse;
using namespace gatehouse::health;
using namespace std::chrono_literals;
using Verdict = Admission::Verdict;

namespace {

config::Endpoint endpoint() {
  config::Endpoint ep;
  ep.id = "users@v1";
  ep.url.text = "http://127.0.0.1:9001/api";
  ep.url.host = "127.0.0.1";
  ep.url.port = 9001;
  ep.url.base_path = "/api";
  ep.circuit_breaker.edit().failure_threshold = 3;
  ep.circuit_breaker.edit().reset_timeout = 10s;
  ep.circuit_breaker.edit().half_open_requests = 1;
  ep.health_check.edit().healthy_threshold = 2;
  ep.health_check.edit().unhealthy_threshold = 2;
  return ep;
}

CheckRecord check(bool ok) {
  return CheckRecord{{}, ok, ok ? 200 : 500, 1.0, ok ? "" : "status 500 not in 200-399"};
}

struct StateFixture : ::testing::Test {
  FakeClock clock;
  std::vector<std::string> events;
  EndpointCallbacks callbacks() {
    EndpointCallbacks cb;
    cb.on_breaker = [this](const EndpointState& s, const BreakerTransition& t) {
      const std::string& id = s.id();
      events.push_back(id + " breaker " + std::string(to_string(t.from)) + "->" +
                       std::string(to_string(t.to)) + " " + std::string(to_string(t.reason)));
    };
    cb.on_health = [this](const EndpointState& s, const HealthTransition& t) {
      const std::string& id = s.id();
      events.push_back(id + " health " + std::string(to_string(t.from)) + "->" +
                       std::string(to_string(t.to)));
    };
    return cb;
  }
};

TEST_F(StateFixture, CountsRequestsFailuresAndFallbacks) {
  EndpointState st(endpoint(), clock, callbacks());
  const auto now = clock.steady_now();
  st.record(st.admit(), Outcome::success, 2ms, now);
  st.record(st.admit(), Outcome::success, 4ms, now);
  st.record(st.admit(), Outcome::failure, 30ms, now);
  st.record(st.admit(), Outcome::aborted, 1ms, now);
  st.record_fallback();
  const auto s = st.snapshot();
  EXPECT_EQ(s.id, "users@v1");
  EXPECT_EQ(s.requests_total, 5u);
  EXPECT_EQ(s.requests_failed, 1u);
  EXPECT_EQ(s.fallbacks, 1u);
  EXPECT_EQ(s.health, Health::unknown);
  EXPECT_FALSE(s.last_health_check);
  EXPECT_EQ(s.circuit_breaker.state, BreakerState::closed);
  EXPECT_EQ(s.circuit_breaker.consecutive_failures, 1u);
}

TEST_F(StateFixture, FailuresOpenTheBreakerAndFallbacksFollow) {
  EndpointState st(endpoint(), clock, callbacks());
  for (int i = 0; i < 3; ++i) st.record(st.admit(), Outcome::failure, 1ms, clock.steady_now());
  const Admission a = st.admit();
  EXPECT_EQ(a.verdict, Verdict::rejected);
  EXPECT_EQ(a.retry_after_s, 10u);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0], "users@v1 breaker closed->open failure_threshold");
}

TEST_F(StateFixture, FailureStatuses) {
  EndpointState st(endpoint(), clock);
  EXPECT_TRUE(st.is_failure_status(502));
  EXPECT_TRUE(st.is_failure_status(503));
  EXPECT_TRUE(st.is_failure_status(504));
  EXPECT_FALSE(st.is_failure_status(500));
  EXPECT_FALSE(st.is_failure_status(200));
}

TEST_F(StateFixture, HealthDownOpensTheBreaker) {
  EndpointState st(endpoint(), clock, callbacks());
  st.record_probe(check(true));
  st.record_probe(check(true));
  EXPECT_EQ(st.snapshot().health, Health::up);
  st.record_probe(check(false));
  EXPECT_EQ(st.breaker().state(), BreakerState::closed);
  st.record_probe(check(false));  // unhealthy_threshold 2 < failure_threshold 3
  const auto s = st.snapshot();
  EXPECT_EQ(s.health, Health::down);
  EXPECT_EQ(s.circuit_breaker.state, BreakerState::open);
  ASSERT_TRUE(s.last_health_check);
  EXPECT_EQ(s.last_health_check->status, 500);
  const std::vector<std::string> want{"users@v1 health unknown->up", "users@v1 health up->down",
                                      "users@v1 breaker closed->open health_down"};
  EXPECT_EQ(events, want);
}

TEST_F(StateFixture, RecoversThroughHalfOpenWithAProbe) {
  EndpointState st(endpoint(), clock, callbacks());
  st.record_probe(check(false));
  st.record_probe(check(false));
  ASSERT_EQ(st.breaker().state(), BreakerState::open);
  st.record_probe(check(true));  // before reset_timeout: no trial
  EXPECT_EQ(st.breaker().state(), BreakerState::open);
  clock.advance(10s);
  st.record_probe(check(true));  // a trial, the only one needed
  EXPECT_EQ(st.breaker().state(), BreakerState::closed);
  EXPECT_EQ(st.snapshot().health, Health::up);  // 2 successes in a row
}

TEST_F(StateFixture, ProbeSuccessResetsPassiveFailures) {
  EndpointState st(endpoint(), clock);
  st.record(st.admit(), Outcome::failure, 1ms, clock.steady_now());
  st.record(st.admit(), Outcome::failure, 1ms, clock.steady_now());
  st.record_probe(check(true));
  EXPECT_EQ(st.snapshot().circuit_breaker.consecutive_failures, 0u);
}

TEST_F(StateFixture, AbortedTrialFreesTheSlot) {
  EndpointState st(endpoint(), clock);
  for (int i = 0; i < 3; ++i) st.record(st.admit(), Outcome::failure, 1ms, clock.steady_now());
  clock.advance(10s);
  const Admission t = st.admit();
  ASSERT_EQ(t.verdict, Verdict::trial);
  EXPECT_EQ(st.admit().verdict, Verdict::rejected);
  st.record(t, Outcome::aborted, 0ms, clock.steady_now());
  EXPECT_EQ(st.admit().verdict, Verdict::trial);
}

TEST_F(StateFixture, SnapshotShowsHalfOpenOnceDue) {
  EndpointState st(endpoint(), clock, callbacks());
  st.breaker().health_down();
  EXPECT_EQ(st.snapshot().circuit_breaker.state, BreakerState::open);
  clock.advance(10s);
  EXPECT_EQ(st.snapshot().circuit_breaker.state, BreakerState::half_open);
  EXPECT_EQ(events.back(), "users@v1 breaker open->half_open reset_timeout");
}

TEST_F(StateFixture, LastUpdatedFollowsTransitionsAndConfig) {
  const auto created = clock.system_now();
  EndpointState st(endpoint(), clock);
  EXPECT_EQ(st.snapshot().last_updated, created);
  clock.advance(5s);
  st.record(st.admit(), Outcome::success, 1ms, clock.steady_now());  // no transition
  EXPECT_EQ(st.snapshot().last_updated, created);
  st.record_probe(check(true));
  st.record_probe(check(true));  // health unknown -> up
  EXPECT_EQ(st.snapshot().last_updated, created + 5s);
  clock.advance(5s);
  st.breaker().health_down();
  EXPECT_EQ(st.snapshot().last_updated, created + 10s);
  clock.advance(5s);
  auto next = endpoint();
  next.prefix = "/people/v1";
  next.cache.max_entries = 5;
  ASSERT_TRUE(st.keeps_state_for(next));
  st.update_config(next);
  EXPECT_EQ(st.config()->prefix, "/people/v1");
  // The breaker opened 5 s ago and reset_timeout is 10 s: no transition in snapshot().
  EXPECT_EQ(st.snapshot().last_updated, created + 15s);
}

TEST_F(StateFixture, StateSurvivesOnlyUnchangedIdentity) {
  EndpointState st(endpoint(), clock);
  auto same = endpoint();
  same.prefix = "/other";
  same.tls.edit().verify = false;
  EXPECT_TRUE(st.keeps_state_for(same));
  auto url = endpoint();
  url.url.port = 9002;
  EXPECT_FALSE(st.keeps_state_for(url));
  auto hc = endpoint();
  hc.health_check.edit().interval = 1s;
  EXPECT_FALSE(st.keeps_state_for(hc));
  auto cb = endpoint();
  cb.circuit_breaker.edit().failure_threshold = 9;
  EXPECT_FALSE(st.keeps_state_for(cb));
}

// The cache is the endpoint's (one for all its servers), in its EndpointStats.
TEST_F(StateFixture, CacheOnlyForTheCachedStrategy) {
  EndpointStats error_fallback(endpoint(), clock);
  EXPECT_EQ(error_fallback.cache(), nullptr);
  auto ep = endpoint();
  ep.circuit_breaker.edit().fallback_strategy = "cached";
  ep.cache.max_bytes = 800;
  EndpointStats cached(ep, clock);
  ASSERT_NE(cached.cache(), nullptr);
  EXPECT_EQ(cached.cache()->max_entry_bytes(), 100u);
  auto smaller = ep;
  smaller.cache.max_bytes = 80;
  cached.update_config(smaller);
  EXPECT_EQ(cached.cache()->max_entry_bytes(), 10u);
}

}  // namespace

namespace {

TEST_F(StateFixture, LostTrialResultReopensAfterTheRequestTimeouts) {
  auto ep = endpoint();
  ep.connect_timeout = 2s;
  ep.timeout = 5s;
  EndpointState st(ep, clock, callbacks());
  st.breaker().health_down();
  clock.advance(10s);
  ASSERT_EQ(st.admit().verdict, Verdict::trial);  // its record() never comes
  clock.advance(7s);                              // connect_timeout + timeout: may still come
  EXPECT_EQ(st.admit().verdict, Verdict::rejected);
  EXPECT_EQ(st.breaker().state(), BreakerState::half_open);
  clock.advance(1s);
  EXPECT_EQ(st.admit().verdict, Verdict::rejected);
  EXPECT_EQ(st.breaker().state(), BreakerState::open);
  EXPECT_EQ(events.back(), "users@v1 breaker half_open->open trial_timeout");
}

}  // namespace

namespace {

// A large table of idle endpoints must not hold their counters: they appear with the
// first request, and reading an idle endpoint's figures does not allocate them.
TEST_F(StateFixture, CountersAreAllocatedByTheFirstRequestOnly) {
  EndpointState st(endpoint(), clock, callbacks());
  EndpointStats stats(endpoint(), clock);
  EXPECT_EQ(st.snapshot().requests_total, 0u);
  EXPECT_TRUE(st.codes().empty());
  EXPECT_EQ(stats.totals().requests_total, 0u);
  EXPECT_FALSE(stats.totals().latency);
  EXPECT_FALSE(st.counters_allocated());
  EXPECT_FALSE(stats.counters_allocated());
  EXPECT_FALSE(stats.latency_allocated());

  const auto now = clock.steady_now();
  st.record(st.admit(), Outcome::success);
  st.count_code(200);
  stats.record(Outcome::success, 3ms, now);
  EXPECT_TRUE(st.counters_allocated());
  EXPECT_TRUE(stats.counters_allocated());
  EXPECT_TRUE(stats.latency_allocated());
  EXPECT_EQ(st.snapshot().requests_total, 1u);
  ASSERT_EQ(st.codes().size(), 1u);
  EXPECT_EQ(stats.totals().requests_total, 1u);
  ASSERT_TRUE(stats.totals().latency);
  EXPECT_NEAR(stats.totals().latency->p50_ms, 3.0, 0.2);
}

// The endpoint's latency (what the stats report) covers forwarded requests whose
// upstream answered, not the ones the client left.
TEST_F(StateFixture, EndpointLatencyLeavesAbortedRequestsOut) {
  EndpointStats stats(endpoint(), clock);
  const auto now = clock.steady_now();
  stats.record(Outcome::success, 2ms, now);
  stats.record(Outcome::success, 4ms, now);
  stats.record(Outcome::failure, 30ms, now);
  stats.record(Outcome::aborted, 1ms, now);
  const auto t = stats.totals();
  EXPECT_EQ(t.requests_total, 4u);
  ASSERT_TRUE(t.latency);
  EXPECT_EQ(t.latency->count, 3u);
  EXPECT_NEAR(t.latency->p50_ms, 4.0, 0.3);
}

// A state built on a snapshot's config holds it (no copy) until rebound to the next one.
TEST_F(StateFixture, RebindMovesTheStateOffTheOldConfig) {
  auto first = std::make_shared<const config::Endpoint>(endpoint());
  std::weak_ptr<const config::Endpoint> watch = first;
  EndpointState st(first, clock, callbacks());
  const auto updated = st.last_updated();
  first.reset();
  EXPECT_FALSE(watch.expired());
  clock.advance(5s);
  st.rebind(std::make_shared<const config::Endpoint>(endpoint()));
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(st.last_updated(), updated);  // not an update
}

}  // namespace
