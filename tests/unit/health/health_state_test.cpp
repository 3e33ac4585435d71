#include "health/health_state.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace gatehouse;
using namespace gatehouse::health;

namespace {

CheckRecord ok_check() { return CheckRecord{{}, true, 200, 1.5, ""}; }
CheckRecord bad_check(std::string error = "") {
  return CheckRecord{{}, false, 500, 2.0, std::move(error)};
}

struct HealthFixture : ::testing::Test {
  std::vector<HealthTransition> log;
  config::HealthCheck hc;  // defaults: healthy 2, unhealthy 3
  HealthState make() {
    return HealthState(hc, [this](const HealthTransition& t) { log.push_back(t); });
  }
};

TEST_F(HealthFixture, UnknownUntilTheFirstVerdict) {
  auto h = make();
  EXPECT_EQ(h.status(), Health::unknown);
  EXPECT_FALSE(h.last_check());
  EXPECT_FALSE(h.record(ok_check()));  // 1 of 2
  EXPECT_EQ(h.status(), Health::unknown);
  const auto t = h.record(ok_check());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->from, Health::unknown);
  EXPECT_EQ(t->to, Health::up);
  EXPECT_EQ(t->reason, "2 consecutive successful checks");
  EXPECT_EQ(h.status(), Health::up);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_FALSE(h.record(ok_check()));  // no repeated transition
}

TEST_F(HealthFixture, DownAfterUnhealthyThresholdNotBefore) {
  auto h = make();
  h.record(ok_check());
  h.record(ok_check());
  EXPECT_FALSE(h.record(bad_check()));
  EXPECT_FALSE(h.record(bad_check()));
  EXPECT_EQ(h.status(), Health::up);
  const auto t = h.record(bad_check("timeout"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->from, Health::up);
  EXPECT_EQ(t->to, Health::down);
  EXPECT_EQ(t->reason, "3 consecutive failed checks: timeout");
  EXPECT_EQ(h.status(), Health::down);
}

TEST_F(HealthFixture, ASuccessBreaksAFailureRun) {
  auto h = make();
  h.record(ok_check());
  h.record(ok_check());
  h.record(bad_check());
  h.record(bad_check());
  h.record(ok_check());
  h.record(bad_check());
  h.record(bad_check());
  EXPECT_EQ(h.status(), Health::up);
  h.record(bad_check());
  EXPECT_EQ(h.status(), Health::down);
  // And back: a failure breaks a success run.
  h.record(ok_check());
  h.record(bad_check());
  h.record(ok_check());
  EXPECT_EQ(h.status(), Health::down);
  h.record(ok_check());
  EXPECT_EQ(h.status(), Health::up);
}

TEST_F(HealthFixture, UnknownToDownReasonNamesTheStatus) {
  hc.unhealthy_threshold = 1;
  auto h = make();
  const auto t = h.record(bad_check());
  ASSERT_TRUE(t);
  EXPECT_EQ(t->from, Health::unknown);
  EXPECT_EQ(t->reason, "1 consecutive failed checks: status 500");
}

TEST_F(HealthFixture, DisabledStaysUnknown) {
  hc.enabled = false;
  auto h = make();
  EXPECT_FALSE(h.enabled());
  for (int i = 0; i < 5; ++i) h.record(bad_check());
  for (int i = 0; i < 5; ++i) h.record(ok_check());
  EXPECT_EQ(h.status(), Health::unknown);
  EXPECT_FALSE(h.last_check());
  EXPECT_TRUE(log.empty());
}

TEST_F(HealthFixture, KeepsTheLastCheck) {
  auto h = make();
  CheckRecord r = bad_check("connect: Connection refused");
  r.status = 0;
  r.at = Clock::SystemTime(std::chrono::seconds(1767225600));
  r.latency_ms = 0.25;
  h.record(r);
  const auto last = h.last_check();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->at, r.at);
  EXPECT_FALSE(last->ok);
  EXPECT_EQ(last->status, 0);
  EXPECT_DOUBLE_EQ(last->latency_ms, 0.25);
  EXPECT_EQ(last->error, "connect: Connection refused");
  EXPECT_EQ(to_string(Health::up), "up");
  EXPECT_EQ(to_string(Health::down), "down");
  EXPECT_EQ(to_string(Health::unknown), "unknown");
}

}  // namespace
