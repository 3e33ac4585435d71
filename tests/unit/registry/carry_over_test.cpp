// registry::build_snapshot carry-over rules (SPEC section 5, last bullet; issue 5): an
// endpoint with the same id whose url, health_check and circuit_breaker are unchanged
// keeps its EndpointState (health, breaker, counters); a changed one starts fresh; a
// removed or disabled one has no state in the new snapshot.
#include "registry/snapshot.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/clock.hpp"
#include "config/config.hpp"

namespace gatehouse::registry {
namespace {

using namespace std::chrono_literals;
using health::BreakerState;
using health::Outcome;

std::shared_ptr<const config::Config> cfg(std::string_view yaml) {
  if (!yaml.empty() && yaml.front() == '\n') yaml.remove_prefix(1);
  config::LoadResult r = config::load_from_string(std::string(yaml), "/tmp/carry_over.yaml");
  std::string errors;
  for (const auto& e : r.errors) errors += e.to_string() + "\n";
  EXPECT_TRUE(r.config) << errors;
  if (!r.config) throw std::runtime_error("invalid test config: " + errors);
  return std::make_shared<const config::Config>(std::move(*r.config));
}

// svc: breaker opens after 2 failures; other: untouched bystander.
constexpr const char* kBase = R"(
endpoints:
  - url: http://127.0.0.1:9001/api
    name: svc
    timeout: 10s
    health_check: { path: /health, interval: 10s }
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
  - url: http://127.0.0.1:9002
    name: other
    health_check: false
)";

struct CarryOver : ::testing::Test {
  FakeClock clock;
  health::EndpointCallbacks callbacks;
  std::uint64_t generation = 1;

  std::shared_ptr<const Snapshot> build(std::string_view yaml, const Snapshot* previous) {
    std::string error;
    auto snap = build_snapshot(cfg(yaml), generation, generation, previous, clock, callbacks,
                               error);
    ++generation;
    EXPECT_TRUE(snap) << error;
    return snap;
  }

  static std::shared_ptr<health::EndpointState> state(const Snapshot& s, std::string_view id) {
    for (const auto& ep : s.endpoints)
      if (ep.config->id == id) return ep.servers.front().state;
    return nullptr;
  }
  static bool has(const Snapshot& s, std::string_view id) {
    for (const auto& ep : s.endpoints)
      if (ep.config->id == id) return true;
    return false;
  }

  // Traffic counters, then two failures: the breaker opens.
  void open_breaker(health::EndpointState& st) {
    st.record(st.admit(), Outcome::success, 1ms, clock.steady_now());
    st.record(st.admit(), Outcome::failure, 1ms, clock.steady_now());
    st.record(st.admit(), Outcome::failure, 1ms, clock.steady_now());
    ASSERT_EQ(st.snapshot().circuit_breaker.state, BreakerState::open);
    ASSERT_EQ(st.admit().verdict, health::Admission::Verdict::rejected);
  }

  std::shared_ptr<health::EndpointState> fresh_after(std::string_view changed_yaml) {
    auto s1 = build(kBase, nullptr);
    auto before = state(*s1, "svc");
    open_breaker(*before);
    auto s2 = build(changed_yaml, s1.get());
    auto after = state(*s2, "svc");
    EXPECT_TRUE(after);
    if (!after) return nullptr;
    EXPECT_NE(after.get(), before.get()) << "a changed endpoint must start fresh";
    const auto snap = after->snapshot();
    EXPECT_EQ(snap.circuit_breaker.state, BreakerState::closed);
    EXPECT_EQ(snap.circuit_breaker.consecutive_failures, 0u);
    EXPECT_EQ(snap.requests_total, 0u);
    EXPECT_EQ(snap.requests_failed, 0u);
    EXPECT_EQ(after->admit().verdict, health::Admission::Verdict::allowed);
    // The bystander keeps its state in every case.
    EXPECT_EQ(state(*s2, "other").get(), state(*s1, "other").get());
    return after;
  }
};

TEST_F(CarryOver, FirstSnapshotHasAFreshStatePerEnabledEndpoint) {
  auto s = build(kBase, nullptr);
  ASSERT_EQ(s->endpoints.size(), 2u);
  auto a = state(*s, "svc");
  auto b = state(*s, "other");
  ASSERT_TRUE(a && b);
  EXPECT_NE(a.get(), b.get());
  EXPECT_EQ(a->id(), "svc");
  EXPECT_EQ(states_of(*s).size(), 2u);
  EXPECT_EQ(s->generation, 1u);
  EXPECT_EQ(s->config_version, 1u);
}

TEST_F(CarryOver, UnchangedEndpointKeepsTheSameStateObject) {
  auto s1 = build(kBase, nullptr);
  auto st = state(*s1, "svc");
  open_breaker(*st);
  const auto last_updated = st->last_updated();
  clock.advance(5s);
  auto s2 = build(kBase, s1.get());
  EXPECT_EQ(state(*s2, "svc").get(), st.get());
  EXPECT_EQ(state(*s2, "other").get(), state(*s1, "other").get());
  const auto snap = state(*s2, "svc")->snapshot();
  EXPECT_EQ(snap.circuit_breaker.state, BreakerState::open);
  EXPECT_EQ(snap.requests_total, 3u);
  EXPECT_EQ(snap.requests_failed, 2u);
  EXPECT_EQ(state(*s2, "svc")->admit().verdict, health::Admission::Verdict::rejected);
  EXPECT_EQ(st->last_updated(), last_updated) << "an unchanged endpoint's last_updated moved";
  EXPECT_EQ(s2->config_version, 2u);
}

TEST_F(CarryOver, StateSurvivesAMoveInTheFileAndOtherEndpointsChanging) {
  auto s1 = build(kBase, nullptr);
  auto st = state(*s1, "svc");
  open_breaker(*st);
  auto s2 = build(R"(
# moved down, a new endpoint in front of it, "other" changed
endpoints:
  - url: http://127.0.0.1:9003
    name: newcomer
    health_check: false
  - url: http://127.0.0.1:9002
    name: other
    timeout: 1s
    health_check: false
  - url: http://127.0.0.1:9001/api
    name: svc
    timeout: 10s
    health_check: { path: /health, interval: 10s }
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
)",
                  s1.get());
  EXPECT_EQ(state(*s2, "svc").get(), st.get());
  EXPECT_EQ(state(*s2, "svc")->snapshot().circuit_breaker.state, BreakerState::open);
  // other's timeout is not url/health_check/circuit_breaker: same state, new config
  EXPECT_EQ(state(*s2, "other").get(), state(*s1, "other").get());
  EXPECT_EQ(state(*s2, "other")->config()->timeout, 1s);
  EXPECT_NE(state(*s2, "newcomer"), nullptr);
}

TEST_F(CarryOver, OtherSettingsChangedKeepStateTakeTheConfigAndMoveLastUpdated) {
  auto s1 = build(kBase, nullptr);
  auto st = state(*s1, "svc");
  open_breaker(*st);
  const auto last_updated = st->last_updated();
  clock.advance(5s);
  auto s2 = build(R"(
endpoints:
  - url: http://127.0.0.1:9001/api
    name: svc
    timeout: 3s
    methods: [GET]
    health_check: { path: /health, interval: 10s }
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
  - url: http://127.0.0.1:9002
    name: other
    health_check: false
)",
                  s1.get());
  EXPECT_EQ(state(*s2, "svc").get(), st.get());
  EXPECT_EQ(st->snapshot().circuit_breaker.state, BreakerState::open);
  EXPECT_EQ(st->config()->timeout, 3s);
  EXPECT_EQ(st->last_updated(), last_updated + 5s);
}

TEST_F(CarryOver, UrlChangeStartsFresh) {
  fresh_after(R"(
endpoints:
  - url: http://127.0.0.1:9011/api
    name: svc
    timeout: 10s
    health_check: { path: /health, interval: 10s }
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
  - url: http://127.0.0.1:9002
    name: other
    health_check: false
)");
}

TEST_F(CarryOver, UrlBasePathChangeStartsFresh) {
  fresh_after(R"(
endpoints:
  - url: http://127.0.0.1:9001/api/v2
    name: svc
    timeout: 10s
    health_check: { path: /health, interval: 10s }
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
  - url: http://127.0.0.1:9002
    name: other
    health_check: false
)");
}

TEST_F(CarryOver, HealthCheckChangeStartsFresh) {
  fresh_after(R"(
endpoints:
  - url: http://127.0.0.1:9001/api
    name: svc
    timeout: 10s
    health_check: { path: /ping, interval: 10s }
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
  - url: http://127.0.0.1:9002
    name: other
    health_check: false
)");
}

TEST_F(CarryOver, HealthCheckTurnedOffStartsFresh) {
  fresh_after(R"(
endpoints:
  - url: http://127.0.0.1:9001/api
    name: svc
    timeout: 10s
    health_check: false
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
  - url: http://127.0.0.1:9002
    name: other
    health_check: false
)");
}

TEST_F(CarryOver, CircuitBreakerChangeStartsFresh) {
  auto st = fresh_after(R"(
endpoints:
  - url: http://127.0.0.1:9001/api
    name: svc
    timeout: 10s
    health_check: { path: /health, interval: 10s }
    circuit_breaker: { failure_threshold: 4, reset_timeout: 60s }
  - url: http://127.0.0.1:9002
    name: other
    health_check: false
)");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->breaker().options().failure_threshold, 4u);
}

TEST_F(CarryOver, CircuitBreakerChangedThroughDefaultsStartsFresh) {
  // svc sets failure_threshold itself; reset_timeout comes from defaults.
  constexpr const char* before = R"(
defaults:
  circuit_breaker: { reset_timeout: 60s }
endpoints:
  - url: http://127.0.0.1:9001/api
    name: svc
    circuit_breaker: { failure_threshold: 2 }
)";
  auto s1 = build(before, nullptr);
  auto st = state(*s1, "svc");
  open_breaker(*st);
  auto same = build(before, s1.get());
  EXPECT_EQ(state(*same, "svc").get(), st.get());
  auto s3 = build(R"(
defaults:
  circuit_breaker: { reset_timeout: 90s }
endpoints:
  - url: http://127.0.0.1:9001/api
    name: svc
    circuit_breaker: { failure_threshold: 2 }
)",
                  same.get());
  auto fresh = state(*s3, "svc");
  ASSERT_TRUE(fresh);
  EXPECT_NE(fresh.get(), st.get());
  EXPECT_EQ(fresh->snapshot().circuit_breaker.state, BreakerState::closed);
}

TEST_F(CarryOver, RemovedEndpointIsGoneAndItsStateReleased) {
  auto s1 = build(kBase, nullptr);
  std::weak_ptr<health::EndpointState> weak = state(*s1, "svc");
  auto s2 = build(R"(
endpoints:
  - url: http://127.0.0.1:9002
    name: other
    health_check: false
)",
                  s1.get());
  EXPECT_FALSE(has(*s2, "svc"));
  EXPECT_EQ(s2->endpoints.size(), 1u);
  EXPECT_EQ(states_of(*s2).size(), 1u);
  EXPECT_FALSE(weak.expired()) << "the old snapshot (in-flight requests) still holds it";
  s1.reset();
  EXPECT_TRUE(weak.expired()) << "nothing but the old snapshot may keep a removed state";
}

TEST_F(CarryOver, RemovedThenAddedAgainStartsFresh) {
  auto s1 = build(kBase, nullptr);
  auto st = state(*s1, "svc");
  open_breaker(*st);
  auto s2 = build(R"(
endpoints:
  - url: http://127.0.0.1:9002
    name: other
    health_check: false
)",
                  s1.get());
  auto s3 = build(kBase, s2.get());
  auto again = state(*s3, "svc");
  ASSERT_TRUE(again);
  EXPECT_NE(again.get(), st.get());
  EXPECT_EQ(again->snapshot().circuit_breaker.state, BreakerState::closed);
}

TEST_F(CarryOver, DisabledEndpointHasNoStateAndReEnablingStartsFresh) {
  auto s1 = build(kBase, nullptr);
  auto st = state(*s1, "svc");
  open_breaker(*st);
  auto s2 = build(R"(
endpoints:
  - url: http://127.0.0.1:9001/api
    name: svc
    disabled: true
    timeout: 10s
    health_check: { path: /health, interval: 10s }
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
  - url: http://127.0.0.1:9002
    name: other
    health_check: false
)",
                  s1.get());
  ASSERT_TRUE(has(*s2, "svc"));  // listed (for stats), but without state
  EXPECT_EQ(state(*s2, "svc"), nullptr);
  EXPECT_EQ(states_of(*s2).size(), 1u);
  auto s3 = build(kBase, s2.get());
  auto again = state(*s3, "svc");
  ASSERT_TRUE(again);
  EXPECT_NE(again.get(), st.get());
  EXPECT_EQ(again->snapshot().circuit_breaker.state, BreakerState::closed);
}

TEST_F(CarryOver, RenamedEndpointStartsFresh) {
  auto s1 = build(kBase, nullptr);
  auto st = state(*s1, "svc");
  open_breaker(*st);
  auto s2 = build(R"(
endpoints:
  - url: http://127.0.0.1:9001/api
    name: svc
    version: v2
    timeout: 10s
    health_check: { path: /health, interval: 10s }
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
  - url: http://127.0.0.1:9002
    name: other
    health_check: false
)",
                  s1.get());
  auto renamed = state(*s2, "svc@v2");
  ASSERT_TRUE(renamed);
  EXPECT_NE(renamed.get(), st.get());
  EXPECT_EQ(renamed->snapshot().circuit_breaker.state, BreakerState::closed);
}

TEST_F(CarryOver, TwoEndpointsOnOneUpstreamKeepTheirOwnState) {
  constexpr const char* two = R"(
endpoints:
  - { url: "http://127.0.0.1:9001/a", name: a, health_check: false,
      circuit_breaker: { failure_threshold: 2 } }
  - { url: "http://127.0.0.1:9001/a", name: b, health_check: false,
      circuit_breaker: { failure_threshold: 2 } }
)";
  auto s1 = build(two, nullptr);
  auto a = state(*s1, "a");
  auto b = state(*s1, "b");
  ASSERT_NE(a.get(), b.get());
  open_breaker(*a);
  auto s2 = build(two, s1.get());
  EXPECT_EQ(state(*s2, "a").get(), a.get());
  EXPECT_EQ(state(*s2, "b").get(), b.get());
  EXPECT_EQ(state(*s2, "b")->snapshot().circuit_breaker.state, BreakerState::closed);
}

TEST_F(CarryOver, ChainOfReloadsKeepsTheOriginalState) {
  auto s = build(kBase, nullptr);
  auto st = state(*s, "svc");
  open_breaker(*st);
  for (int i = 0; i < 5; ++i) {
    auto next = build(kBase, s.get());
    s = next;
  }
  EXPECT_EQ(state(*s, "svc").get(), st.get());
  EXPECT_EQ(st->snapshot().requests_total, 3u);
}

}  // namespace
}  // namespace gatehouse::registry

namespace gatehouse::registry {
namespace {

// Kept states point into the newest snapshot's config, so the old config (a whole
// endpoint table) is freed with its snapshot, whatever states outlive it.
TEST_F(CarryOver, KeptStatesReleaseTheOldConfig) {
  auto s1 = build(kBase, nullptr);
  std::weak_ptr<const config::Config> old_config = s1->config;
  auto st = state(*s1, "svc");
  auto s2 = build(kBase, s1.get());
  ASSERT_EQ(state(*s2, "svc").get(), st.get());
  EXPECT_EQ(st->config().get(), &s2->config->endpoints[0]);
  s1.reset();
  EXPECT_TRUE(old_config.expired());
}

// A build that fails half-way leaves the running table's states as they were.
TEST_F(CarryOver, AFailedBuildChangesNoKeptState) {
  auto s1 = build(kBase, nullptr);
  auto st = state(*s1, "svc");
  auto c = cfg(R"(
endpoints:
  - url: http://127.0.0.1:9001/api
    name: svc
    timeout: 3s
    health_check: { path: /health, interval: 10s }
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
  - url: https://127.0.0.1:9003
    name: tls
)");
  // A CA file that cannot be read makes the build fail (the loader would have refused it).
  auto& tls_ep = const_cast<config::Endpoint&>(c->endpoints[1]);
  tls_ep.tls.edit().ca_file = "/nonexistent/ca.pem";
  std::string error;
  auto s2 = build_snapshot(c, 2, 2, s1.get(), clock, callbacks, error);
  EXPECT_FALSE(s2);
  EXPECT_EQ(st->config()->timeout, 10s);
  EXPECT_EQ(st->config().get(), &s1->config->endpoints[0]);
}

}  // namespace
}  // namespace gatehouse::registry
