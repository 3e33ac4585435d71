// The process-wide registry: metrics by endpoint id, retention over reloads, reloads.
#include <gtest/gtest.h>

#include "metrics/registry.hpp"

namespace gatehouse::metrics {
namespace {

TEST(Registry, SameIdSameMetrics) {
  Registry reg(2);
  auto a = reg.endpoint("users@v1");
  auto b = reg.endpoint("users@v1");
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(reg.endpoint("orders").get(), a.get());
  EXPECT_EQ(a->id(), "users@v1");
  EXPECT_EQ(a->shards(), 2u);
  EXPECT_EQ(reg.size(), 2u);
}

TEST(Registry, RetainOnlyForgetsRemovedIds) {
  Registry reg(1);
  auto kept = reg.endpoint("kept");
  auto gone = reg.endpoint("gone");
  RequestSample s;
  s.status = 200;
  gone->record(0, s);
  reg.retain_only({"kept"});
  EXPECT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg.endpoint("kept").get(), kept.get());
  // An id that comes back starts from zero.
  auto back = reg.endpoint("gone");
  EXPECT_NE(back.get(), gone.get());
  EndpointTotals t;
  back->merge_into(t);
  EXPECT_TRUE(t.requests.empty());
}

TEST(Registry, RecordWithoutEndpointGoesToUnmatched) {
  Registry reg(1);
  RequestSample s;
  s.status = 404;
  s.error = ErrorCode::no_route;
  reg.record(nullptr, 0, s);
  EndpointTotals t;
  reg.unmatched().merge_into(t);
  ASSERT_EQ(t.requests.size(), 1u);
  EXPECT_EQ(key_status(t.requests[0].first), 404);
  EXPECT_EQ(t.errors[static_cast<std::size_t>(ErrorCode::no_route)], 1u);
  EXPECT_EQ(reg.unmatched().id(), "");
}

TEST(Registry, ReloadCountsAndTimestamp) {
  Registry reg(1);
  EXPECT_FALSE(reg.last_success_seconds().has_value());
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::milliseconds(1767225600123));
  reg.loaded(t0);
  EXPECT_DOUBLE_EQ(*reg.last_success_seconds(), 1767225600.123);
  reg.count_reload(false, t0 + std::chrono::seconds(5));
  EXPECT_DOUBLE_EQ(*reg.last_success_seconds(), 1767225600.123);  // a failure keeps it
  reg.count_reload(true, t0 + std::chrono::seconds(10));
  EXPECT_DOUBLE_EQ(*reg.last_success_seconds(), 1767225610.123);
  EXPECT_EQ(reg.reloads(true), 1u);
  EXPECT_EQ(reg.reloads(false), 1u);
}

}  // namespace
}  // namespace gatehouse::metrics
