// build_snapshot with endpoints shared by the next config (a reload that took them
// unchanged): their states stay bound to the same object, and a route table no endpoint
// changed is shared by the two snapshots.
#include <gtest/gtest.h>

#include "common/clock.hpp"
#include "registry/snapshot.hpp"

namespace gatehouse::registry {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const config::Config> load(const char* yaml) {
  auto r = config::load_from_string(yaml, "/tmp/shared_endpoints.yaml");
  EXPECT_TRUE(r.config);
  return std::make_shared<const config::Config>(std::move(*r.config));
}

constexpr const char* kTwo = R"(endpoints:
  - { url: "http://127.0.0.1:9001/a", name: a, health_check: false }
  - { url: "http://127.0.0.1:9002/b", name: b, health_check: false }
)";

struct SharedEndpoints : ::testing::Test {
  FakeClock clock;
  health::EndpointCallbacks callbacks;
  std::shared_ptr<const Snapshot> build(std::shared_ptr<const config::Config> cfg,
                                        const Snapshot* previous) {
    std::string error;
    auto snap = build_snapshot(std::move(cfg), 1, 1, previous, clock, callbacks, error);
    EXPECT_TRUE(snap) << error;
    return snap;
  }
};

TEST_F(SharedEndpoints, AnUnchangedObjectKeepsItsStateBoundAndTheRouteTable) {
  auto s1 = build(load(kTwo), nullptr);
  auto next = std::make_shared<config::Config>(*s1->config);  // shares both endpoints
  next->endpoints.edit(1).timeout = 3s;                        // b: a copy of its own
  auto s2 = build(next, s1.get());
  EXPECT_EQ(s2->endpoints[0].config, s1->endpoints[0].config);
  auto a = s2->endpoints[0].state();
  ASSERT_EQ(a, s1->endpoints[0].state());
  EXPECT_EQ(a->config().get(), &s2->config->endpoints[0]);
  auto b = s2->endpoints[1].state();
  ASSERT_EQ(b, s1->endpoints[1].state());
  EXPECT_EQ(b->config().get(), &s2->config->endpoints[1]);
  EXPECT_EQ(b->config()->timeout, 3s);
  // Nothing that routes changed: the same table.
  EXPECT_EQ(s2->routes, s1->routes);
  EXPECT_TRUE(s2->routes->match("GET", "/b/x", "").endpoint == 1u);
}

TEST_F(SharedEndpoints, APrefixChangeBuildsANewRouteTable) {
  auto s1 = build(load(kTwo), nullptr);
  auto next = std::make_shared<config::Config>(*s1->config);
  next->endpoints.edit(1).prefix = "/bee";
  auto s2 = build(next, s1.get());
  EXPECT_NE(s2->routes, s1->routes);
  EXPECT_EQ(s2->routes->match("GET", "/bee/x", "").endpoint, 1u);
}

}  // namespace
}  // namespace gatehouse::registry
