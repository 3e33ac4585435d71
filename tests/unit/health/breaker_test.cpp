#include "health/breaker.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace gatehouse;
using namespace gatehouse::health;
using namespace std::chrono_literals;
using Verdict = Admission::Verdict;

namespace {

struct BreakerFixture : ::testing::Test {
  FakeClock clock;
  std::vector<BreakerTransition> log;

  std::unique_ptr<CircuitBreaker> make(std::uint32_t threshold, std::chrono::milliseconds reset,
                                       std::uint32_t half_open,
                                       std::chrono::milliseconds trial_timeout = 0ms) {
    BreakerOptions o;
    o.failure_threshold = threshold;
    o.reset_timeout = reset;
    o.half_open_requests = half_open;
    o.trial_timeout = trial_timeout;
    return std::make_unique<CircuitBreaker>(
        o, clock, [this](const BreakerTransition& t) { log.push_back(t); });
  }

  static void fail(CircuitBreaker& b, int n) {
    for (int i = 0; i < n; ++i) {
      const Admission a = b.admit();
      ASSERT_EQ(a.verdict, Verdict::allowed);
      b.record(a, false);
    }
  }
};

TEST_F(BreakerFixture, StartsClosedAndAllows) {
  auto b = make(3, 30s, 1);
  EXPECT_EQ(b->state(), BreakerState::closed);
  const Admission a = b->admit();
  EXPECT_EQ(a.verdict, Verdict::allowed);
  EXPECT_TRUE(a.admitted());
  b->record(a, true);
  const auto s = b->snapshot();
  EXPECT_EQ(s.state, BreakerState::closed);
  EXPECT_EQ(s.consecutive_failures, 0u);
  EXPECT_FALSE(s.opened_at);
  EXPECT_FALSE(s.next_attempt_at);
  EXPECT_TRUE(log.empty());
}

TEST_F(BreakerFixture, ThresholdMinusOneFailuresStayClosed) {
  auto b = make(3, 30s, 1);
  fail(*b, 2);
  EXPECT_EQ(b->state(), BreakerState::closed);
  EXPECT_EQ(b->consecutive_failures(), 2u);
  EXPECT_EQ(b->admit().verdict, Verdict::allowed);
  fail(*b, 1);
  EXPECT_EQ(b->state(), BreakerState::open);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].from, BreakerState::closed);
  EXPECT_EQ(log[0].to, BreakerState::open);
  EXPECT_EQ(log[0].reason, BreakerReason::failure_threshold);
  EXPECT_EQ(log[0].consecutive_failures, 3u);
}

TEST_F(BreakerFixture, ThresholdOneOpensOnFirstFailure) {
  auto b = make(1, 30s, 1);
  fail(*b, 1);
  EXPECT_EQ(b->state(), BreakerState::open);
}

TEST_F(BreakerFixture, SuccessResetsTheCount) {
  auto b = make(3, 30s, 1);
  fail(*b, 2);
  const Admission ok = b->admit();
  b->record(ok, true);
  EXPECT_EQ(b->consecutive_failures(), 0u);
  fail(*b, 2);
  EXPECT_EQ(b->state(), BreakerState::closed);
  fail(*b, 1);
  EXPECT_EQ(b->state(), BreakerState::open);
}

TEST_F(BreakerFixture, OpenRejectsAndReportsTimes) {
  auto b = make(2, 30s, 1);
  const auto opened = clock.system_now();
  fail(*b, 2);
  const Admission r = b->admit();
  EXPECT_EQ(r.verdict, Verdict::rejected);
  EXPECT_FALSE(r.admitted());
  EXPECT_EQ(r.retry_after_s, 30u);
  const auto s = b->snapshot();
  EXPECT_EQ(s.state, BreakerState::open);
  EXPECT_EQ(s.consecutive_failures, 2u);
  ASSERT_TRUE(s.opened_at);
  ASSERT_TRUE(s.next_attempt_at);
  EXPECT_EQ(*s.opened_at, opened);
  EXPECT_EQ(*s.next_attempt_at, opened + 30s);
}

TEST_F(BreakerFixture, RetryAfterRoundsUpWithMinimumOne) {
  auto b = make(1, 30s, 1);
  fail(*b, 1);
  EXPECT_EQ(b->admit().retry_after_s, 30u);  // exactly 30 s left
  clock.advance(1ms);
  EXPECT_EQ(b->admit().retry_after_s, 30u);  // 29.999 s -> 30
  clock.advance(999ms);
  EXPECT_EQ(b->admit().retry_after_s, 29u);  // exactly 29 s
  clock.advance(28s);
  EXPECT_EQ(b->admit().retry_after_s, 1u);  // exactly 1 s
  clock.advance(500ms);
  EXPECT_EQ(b->admit().retry_after_s, 1u);  // 0.5 s -> 1
  clock.advance(499ms);
  EXPECT_EQ(b->admit().retry_after_s, 1u);  // 1 ms -> 1
  clock.advance(999us);
  const Admission last = b->admit();  // 1 us left: still open, never 0
  EXPECT_EQ(last.verdict, Verdict::rejected);
  EXPECT_EQ(last.retry_after_s, 1u);
}

TEST_F(BreakerFixture, RetryAfterForSubSecondResetTimeoutIsOne) {
  auto b = make(1, 200ms, 1);
  fail(*b, 1);
  EXPECT_EQ(b->admit().retry_after_s, 1u);
  auto c = make(1, 1500ms, 1);
  fail(*c, 1);
  EXPECT_EQ(c->admit().retry_after_s, 2u);
}

TEST_F(BreakerFixture, HalfOpenAfterResetTimeoutExactly) {
  auto b = make(1, 30s, 1);
  fail(*b, 1);
  clock.advance(30s - 1ns);
  EXPECT_EQ(b->admit().verdict, Verdict::rejected);
  EXPECT_EQ(b->state(), BreakerState::open);
  clock.advance(1ns);
  const Admission t = b->admit();
  EXPECT_EQ(t.verdict, Verdict::trial);
  EXPECT_EQ(b->state(), BreakerState::half_open);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1].from, BreakerState::open);
  EXPECT_EQ(log[1].to, BreakerState::half_open);
  EXPECT_EQ(log[1].reason, BreakerReason::reset_timeout);
}

TEST_F(BreakerFixture, HalfOpenAdmitsExactlyN) {
  auto b = make(1, 10s, 3);
  fail(*b, 1);
  clock.advance(10s);
  std::vector<Admission> trials;
  for (int i = 0; i < 10; ++i) {
    const Admission a = b->admit();
    if (a.verdict == Verdict::trial)
      trials.push_back(a);
    else {
      EXPECT_EQ(a.verdict, Verdict::rejected);
      EXPECT_EQ(a.retry_after_s, 1u);
    }
  }
  EXPECT_EQ(trials.size(), 3u);
}

TEST_F(BreakerFixture, AllTrialsSucceedingCloses) {
  auto b = make(2, 10s, 3);
  fail(*b, 2);
  clock.advance(10s);
  const Admission t1 = b->admit(), t2 = b->admit(), t3 = b->admit();
  ASSERT_EQ(t3.verdict, Verdict::trial);
  b->record(t1, true);
  b->record(t2, true);
  EXPECT_EQ(b->state(), BreakerState::half_open);  // 2 of 3 is not enough
  EXPECT_EQ(b->admit().verdict, Verdict::rejected);
  b->record(t3, true);
  EXPECT_EQ(b->state(), BreakerState::closed);
  EXPECT_EQ(b->consecutive_failures(), 0u);
  EXPECT_EQ(log.back().reason, BreakerReason::trials_succeeded);
  EXPECT_EQ(log.back().to, BreakerState::closed);
  EXPECT_FALSE(b->snapshot().opened_at);
  // Closed again: the count starts from zero.
  fail(*b, 1);
  EXPECT_EQ(b->state(), BreakerState::closed);
}

TEST_F(BreakerFixture, TrialFailureReopensAndRestartsTheTimer) {
  auto b = make(1, 30s, 2);
  fail(*b, 1);
  clock.advance(30s);
  const Admission t1 = b->admit();
  const Admission t2 = b->admit();
  b->record(t1, true);
  clock.advance(5s);
  const auto reopened = clock.system_now();
  b->record(t2, false);
  EXPECT_EQ(b->state(), BreakerState::open);
  EXPECT_EQ(log.back().reason, BreakerReason::trial_failed);
  EXPECT_EQ(log.back().from, BreakerState::half_open);
  EXPECT_EQ(*b->snapshot().opened_at, reopened);
  EXPECT_EQ(*b->snapshot().next_attempt_at, reopened + 30s);
  EXPECT_EQ(b->admit().retry_after_s, 30u);  // full timeout again, not what was left
  clock.advance(30s - 1ms);
  EXPECT_EQ(b->admit().verdict, Verdict::rejected);
  clock.advance(1ms);
  EXPECT_EQ(b->admit().verdict, Verdict::trial);
}

TEST_F(BreakerFixture, StaleResultsDoNotMoveANewPeriod) {
  auto b = make(2, 10s, 1);
  const Admission early = b->admit();  // admitted while closed
  const Admission early2 = b->admit();
  fail(*b, 2);
  ASSERT_EQ(b->state(), BreakerState::open);
  b->record(early, true);  // late success while open: no effect
  EXPECT_EQ(b->state(), BreakerState::open);
  clock.advance(10s);
  const Admission t1 = b->admit();
  ASSERT_EQ(t1.verdict, Verdict::trial);
  b->record(early2, false);  // late failure from the closed period
  EXPECT_EQ(b->state(), BreakerState::half_open);
  b->record(t1, false);
  clock.advance(10s);
  const Admission t2 = b->admit();
  ASSERT_EQ(t2.verdict, Verdict::trial);
  b->record(t1, true);  // a trial of the previous half-open period
  EXPECT_EQ(b->state(), BreakerState::half_open);
  b->record(t2, true);
  EXPECT_EQ(b->state(), BreakerState::closed);
}

TEST_F(BreakerFixture, RejectedRecordsAreIgnored) {
  auto b = make(1, 10s, 1);
  fail(*b, 1);
  const Admission r = b->admit();
  b->record(r, true);
  b->record(r, false);
  EXPECT_EQ(b->state(), BreakerState::open);
  EXPECT_EQ(log.size(), 1u);
}

TEST_F(BreakerFixture, HealthDownOpensFromClosedAndHalfOpen) {
  auto b = make(5, 10s, 1);
  b->health_down();
  EXPECT_EQ(b->state(), BreakerState::open);
  EXPECT_EQ(log.back().reason, BreakerReason::health_down);
  EXPECT_EQ(b->admit().retry_after_s, 10u);
  // Already open: the timer is not pushed back.
  clock.advance(4s);
  b->health_down();
  EXPECT_EQ(b->admit().retry_after_s, 6u);
  EXPECT_EQ(log.size(), 1u);
  clock.advance(6s);
  ASSERT_EQ(b->admit().verdict, Verdict::trial);
  b->health_down();
  EXPECT_EQ(b->state(), BreakerState::open);
  EXPECT_EQ(log.back().from, BreakerState::half_open);
  EXPECT_EQ(log.back().reason, BreakerReason::health_down);
  EXPECT_EQ(b->admit().retry_after_s, 10u);
}

TEST_F(BreakerFixture, ProbeResultsCountLikeRequests) {
  auto b = make(3, 10s, 1);
  b->record_probe(false);
  fail(*b, 1);
  EXPECT_EQ(b->consecutive_failures(), 2u);
  b->record_probe(true);  // a successful probe resets the count
  EXPECT_EQ(b->consecutive_failures(), 0u);
  fail(*b, 2);
  b->record_probe(false);  // the third consecutive failure is a probe's
  EXPECT_EQ(b->state(), BreakerState::open);
  EXPECT_EQ(log.back().reason, BreakerReason::failure_threshold);
}

TEST_F(BreakerFixture, ProbeBeforeResetTimeoutIsNotATrial) {
  auto b = make(1, 10s, 1);
  fail(*b, 1);
  clock.advance(9s);
  b->record_probe(true);
  EXPECT_EQ(b->state(), BreakerState::open);
  b->record_probe(false);  // nor does a failure restart the timer
  EXPECT_EQ(b->admit().retry_after_s, 1u);
}

TEST_F(BreakerFixture, SuccessfulProbeAfterResetTimeoutIsATrial) {
  auto b = make(1, 10s, 1);
  fail(*b, 1);
  clock.advance(10s);
  b->record_probe(true);  // open -> half_open, takes the one slot, succeeds -> closed
  EXPECT_EQ(b->state(), BreakerState::closed);
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[1].reason, BreakerReason::reset_timeout);
  EXPECT_EQ(log[2].reason, BreakerReason::trials_succeeded);
}

TEST_F(BreakerFixture, ProbeTakesOneOfTheSlots) {
  auto b = make(1, 10s, 2);
  fail(*b, 1);
  clock.advance(10s);
  b->record_probe(true);
  EXPECT_EQ(b->state(), BreakerState::half_open);
  const Admission t = b->admit();
  EXPECT_EQ(t.verdict, Verdict::trial);
  EXPECT_EQ(b->admit().verdict, Verdict::rejected);  // 1 probe + 1 request = 2 slots
  b->record(t, true);
  EXPECT_EQ(b->state(), BreakerState::closed);
}

TEST_F(BreakerFixture, ProbeFindsNoFreeSlot) {
  auto b = make(1, 10s, 1);
  fail(*b, 1);
  clock.advance(10s);
  const Admission t = b->admit();
  b->record_probe(true);  // the slot is the request's: the probe is not a trial
  EXPECT_EQ(b->state(), BreakerState::half_open);
  b->record(t, true);
  EXPECT_EQ(b->state(), BreakerState::closed);
}

TEST_F(BreakerFixture, FailedProbeInHalfOpenReopens) {
  auto b = make(1, 10s, 2);
  fail(*b, 1);
  clock.advance(10s);
  const Admission t = b->admit();
  ASSERT_EQ(t.verdict, Verdict::trial);
  b->record_probe(false);
  EXPECT_EQ(b->state(), BreakerState::open);
  EXPECT_EQ(log.back().reason, BreakerReason::probe_failed);
  EXPECT_EQ(b->admit().retry_after_s, 10u);
  b->record(t, true);  // the trial of the abandoned period no longer counts
  EXPECT_EQ(b->state(), BreakerState::open);
}

TEST_F(BreakerFixture, FailedProbeAfterResetTimeoutRestartsTheTimer) {
  auto b = make(1, 10s, 1);
  fail(*b, 1);
  clock.advance(10s);
  b->record_probe(false);
  EXPECT_EQ(b->state(), BreakerState::open);
  EXPECT_EQ(b->admit().retry_after_s, 10u);
}

TEST_F(BreakerFixture, CancelGivesTheSlotBack) {
  auto b = make(1, 10s, 1);
  fail(*b, 1);
  clock.advance(10s);
  const Admission t = b->admit();
  EXPECT_EQ(b->admit().verdict, Verdict::rejected);
  b->cancel(t);
  const Admission again = b->admit();
  EXPECT_EQ(again.verdict, Verdict::trial);
  b->cancel(again);
  b->cancel(again);  // twice does not free a slot that is not held
  EXPECT_EQ(b->admit().verdict, Verdict::trial);
  EXPECT_EQ(b->admit().verdict, Verdict::rejected);
}

TEST_F(BreakerFixture, TrialTimeoutReopensAStuckHalfOpen) {
  auto b = make(1, 10s, 1, 5s);
  fail(*b, 1);
  clock.advance(10s);
  ASSERT_EQ(b->admit().verdict, Verdict::trial);  // never recorded
  clock.advance(5s - 1ms);
  EXPECT_EQ(b->admit().verdict, Verdict::rejected);
  EXPECT_EQ(b->state(), BreakerState::half_open);
  clock.advance(1ms);
  const Admission r = b->admit();
  EXPECT_EQ(r.verdict, Verdict::rejected);
  EXPECT_EQ(r.retry_after_s, 10u);
  EXPECT_EQ(b->state(), BreakerState::open);
  EXPECT_EQ(log.back().reason, BreakerReason::trial_timeout);
}

TEST_F(BreakerFixture, RefreshShowsHalfOpenWithoutTraffic) {
  auto b = make(1, 10s, 1);
  fail(*b, 1);
  b->refresh();
  EXPECT_EQ(b->state(), BreakerState::open);
  clock.advance(10s);
  b->refresh();
  EXPECT_EQ(b->state(), BreakerState::half_open);
  const auto s = b->snapshot();
  EXPECT_TRUE(s.opened_at);
  EXPECT_TRUE(s.next_attempt_at);
  EXPECT_EQ(b->admit().verdict, Verdict::trial);  // refresh took no slot
}

TEST_F(BreakerFixture, OptionsFromConfigAndNames) {
  config::CircuitBreaker cb;
  cb.failure_threshold = 7;
  cb.reset_timeout = 12s;
  cb.half_open_requests = 4;
  const auto o = BreakerOptions::from(cb);
  EXPECT_EQ(o.failure_threshold, 7u);
  EXPECT_EQ(o.reset_timeout, 12s);
  EXPECT_EQ(o.half_open_requests, 4u);
  EXPECT_EQ(to_string(BreakerState::half_open), "half_open");
  EXPECT_EQ(to_string(BreakerState::open), "open");
  EXPECT_EQ(to_string(BreakerState::closed), "closed");
  EXPECT_EQ(to_string(BreakerReason::trials_succeeded), "trials_succeeded");
  EXPECT_EQ(to_string(BreakerReason::health_down), "health_down");
}

}  // namespace
