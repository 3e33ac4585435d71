// Session ticket keys: rotated every period, the previous key still opens tickets.
#include <gtest/gtest.h>

#include "net/ticket_keys.hpp"

namespace gatehouse::net {
namespace {

using namespace std::chrono_literals;

TEST(TicketKeys, OneKeyPerPeriodAndThePreviousOneStillOpensTickets) {
  TicketKeys keys(60s);
  const auto t0 = TicketKeys::Clock::time_point{} + 1000s;
  const auto first = keys.current(t0);
  ASSERT_TRUE(first);
  EXPECT_EQ(keys.current(t0 + 59s)->name, first->name);

  bool renew = true;
  ASSERT_TRUE(keys.find(first->name.data(), t0 + 30s, renew));
  EXPECT_FALSE(renew);

  const auto second = keys.current(t0 + 61s);
  ASSERT_TRUE(second);
  EXPECT_NE(second->name, first->name);
  EXPECT_NE(second->aes, first->aes);
  // A ticket under the previous key is accepted and renewed.
  ASSERT_TRUE(keys.find(first->name.data(), t0 + 90s, renew));
  EXPECT_TRUE(renew);
  ASSERT_TRUE(keys.find(second->name.data(), t0 + 90s, renew));
  EXPECT_FALSE(renew);
  // Two periods after it was made, a key opens nothing.
  EXPECT_FALSE(keys.find(first->name.data(), t0 + 120s, renew));

  const auto third = keys.current(t0 + 125s);
  ASSERT_TRUE(third);
  EXPECT_FALSE(keys.find(first->name.data(), t0 + 125s, renew));  // dropped
  EXPECT_TRUE(keys.find(second->name.data(), t0 + 125s, renew));
}

TEST(TicketKeys, UnknownNameOpensNothing) {
  TicketKeys keys(60s);
  const auto now = TicketKeys::Clock::time_point{} + 5s;
  ASSERT_TRUE(keys.current(now));
  unsigned char other[16] = {1, 2, 3};
  bool renew = false;
  EXPECT_FALSE(keys.find(other, now, renew));
}

}  // namespace
}  // namespace gatehouse::net
