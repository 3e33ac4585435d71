// config::EndpointList: read like a vector, copies share endpoints, edit() copies a
// shared endpoint before changing it (a list behaves as a value).
#include <gtest/gtest.h>

#include <vector>

#include "config/config.hpp"

namespace gatehouse::config {
namespace {

Endpoint named(const char* id) {
  Endpoint e;
  e.id = id;
  return e;
}

TEST(EndpointList, ReadsLikeAVector) {
  const EndpointList list(std::vector<Endpoint>{named("a"), named("b")});
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1].id, "b");
  EXPECT_EQ(list.front().id, "a");
  std::vector<std::string> ids;
  for (const Endpoint& e : list) ids.push_back(e.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(list.end() - list.begin(), 2);
  EXPECT_THROW((void)list.at(2), std::out_of_range);
}

TEST(EndpointList, ACopySharesUntilEdited) {
  EndpointList a(std::vector<Endpoint>{named("a"), named("b")});
  EndpointList b = a;
  EXPECT_EQ(&a[0], &b[0]);
  b.edit(0).id = "changed";
  EXPECT_EQ(a[0].id, "a");
  EXPECT_EQ(b[0].id, "changed");
  EXPECT_NE(&a[0], &b[0]);
  EXPECT_EQ(&a[1], &b[1]);
  // Not shared any more: edited in place.
  const Endpoint* own = &b[0];
  b.edit(0).id = "again";
  EXPECT_EQ(&b[0], own);
}

TEST(EndpointList, ADeepCopySharesNothing) {
  const EndpointList a(std::vector<Endpoint>{named("a")});
  const EndpointList b = a.deep_copy();
  EXPECT_NE(&a[0], &b[0]);
  EXPECT_EQ(b[0].id, "a");
  EXPECT_EQ(a.shared(0).use_count(), 1);
}

}  // namespace
}  // namespace gatehouse::config
