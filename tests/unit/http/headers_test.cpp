#include <gtest/gtest.h>

#include <set>

#include "http/headers.hpp"

using namespace gatehouse::http;

TEST(HeaderRules, HopByHopFields) {
  for (auto name : {"Connection", "keep-alive", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
                    "Proxy-Connection", "Proxy-Authorization"})
    EXPECT_TRUE(is_hop_by_hop(name)) << name;
  for (auto name : {"Authorization", "Cookie", "Content-Length", "Host", "X-Forwarded-For"})
    EXPECT_FALSE(is_hop_by_hop(name)) << name;
}

TEST(HeaderRules, ConnectionNamedFields) {
  const std::string_view tokens[] = {"X-Secret", "foo"};
  EXPECT_TRUE(named_by_connection("x-secret", tokens));
  EXPECT_TRUE(named_by_connection("FOO", tokens));
  EXPECT_FALSE(named_by_connection("bar", tokens));
}

TEST(HeaderRules, RequestIdSanity) {
  EXPECT_TRUE(is_sane_request_id("abc-123_x.y:z"));
  EXPECT_FALSE(is_sane_request_id(""));
  EXPECT_FALSE(is_sane_request_id("has space"));
  EXPECT_FALSE(is_sane_request_id("quote\""));
  EXPECT_FALSE(is_sane_request_id(std::string(129, 'a')));
}

TEST(HeaderRules, GeneratedRequestIdsAreHexAndDistinct) {
  std::set<std::string> seen;
  std::string id;
  for (int i = 0; i < 1000; ++i) {
    generate_request_id(id);
    ASSERT_EQ(id.size(), 32u);
    for (char c : id) ASSERT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}
