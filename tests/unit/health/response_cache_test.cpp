#include "health/response_cache.hpp"

#include <gtest/gtest.h>

using namespace gatehouse;
using namespace gatehouse::health;
using namespace std::chrono_literals;

namespace {

CachedResponse response(std::string body, bool is_public = false) {
  CachedResponse r;
  r.status = 200;
  r.headers = {{"Content-Type", "text/plain"}};
  r.body = std::move(body);
  r.is_public = is_public;
  return r;
}

// "/n", built by appending ("/" + std::string&& trips g++ 12's -Wrestrict).
std::string path_of(int i) {
  std::string p = "/";
  p += std::to_string(i);
  return p;
}

config::Cache limits(std::chrono::milliseconds ttl, std::uint64_t entries, std::uint64_t bytes) {
  config::Cache c;
  c.ttl = ttl;
  c.max_entries = entries;
  c.max_bytes = bytes;
  return c;
}

struct CacheFixture : ::testing::Test {
  FakeClock clock;
};

TEST_F(CacheFixture, StoresAndServesWithAge) {
  ResponseCache cache(limits(60s, 10, 1 << 20), clock);
  EXPECT_FALSE(cache.lookup("GET", "/a", "", false));
  ASSERT_TRUE(cache.store("GET", "/a", "x=1", response("hello")));
  EXPECT_FALSE(cache.lookup("GET", "/a", "", false));  // other query
  EXPECT_FALSE(cache.lookup("GET", "/a", "x=2", false));
  EXPECT_FALSE(cache.lookup("HEAD", "/a", "x=1", false));  // other method
  EXPECT_FALSE(cache.lookup("GET", "/b", "x=1", false));   // other path
  clock.advance(2500ms);
  const auto hit = cache.lookup("GET", "/a", "x=1", false);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->response->status, 200);
  EXPECT_EQ(hit->response->body, "hello");
  ASSERT_EQ(hit->response->headers.size(), 1u);
  EXPECT_EQ(hit->response->headers[0].second, "text/plain");
  EXPECT_EQ(hit->age_s, 2u);  // whole seconds, rounded down
  EXPECT_EQ(ResponseCache::key("GET", "/a", "x=1"), "GET /a?x=1");
  EXPECT_EQ(ResponseCache::key("HEAD", "/a", ""), "HEAD /a");
}

TEST_F(CacheFixture, TtlBound) {
  ResponseCache cache(limits(10s, 10, 1 << 20), clock);
  cache.store("GET", "/a", "", response("a"));
  clock.advance(10s - 1ms);
  const auto hit = cache.lookup("GET", "/a", "", false);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->age_s, 9u);
  clock.advance(1ms);
  EXPECT_FALSE(cache.lookup("GET", "/a", "", false));
  EXPECT_EQ(cache.entries(), 0u);  // the expired entry is dropped
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST_F(CacheFixture, ReplacingRestartsTheAge) {
  ResponseCache cache(limits(10s, 10, 1 << 20), clock);
  cache.store("GET", "/a", "", response("old"));
  clock.advance(8s);
  cache.store("GET", "/a", "", response("newer"));
  clock.advance(5s);
  const auto hit = cache.lookup("GET", "/a", "", false);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->response->body, "newer");
  EXPECT_EQ(hit->age_s, 5u);
  EXPECT_EQ(cache.entries(), 1u);
}

TEST_F(CacheFixture, MaxEntriesEvictsLeastRecentlyUsed) {
  ResponseCache cache(limits(60s, 3, 1 << 20), clock);
  cache.store("GET", "/1", "", response("1"));
  cache.store("GET", "/2", "", response("2"));
  cache.store("GET", "/3", "", response("3"));
  ASSERT_TRUE(cache.lookup("GET", "/1", "", false));  // /1 is now the most recent
  cache.store("GET", "/4", "", response("4"));        // evicts /2
  EXPECT_EQ(cache.entries(), 3u);
  EXPECT_TRUE(cache.lookup("GET", "/1", "", false));
  EXPECT_FALSE(cache.lookup("GET", "/2", "", false));
  EXPECT_TRUE(cache.lookup("GET", "/3", "", false));
  EXPECT_TRUE(cache.lookup("GET", "/4", "", false));
}

TEST_F(CacheFixture, MaxBytesEvictsLeastRecentlyUsed) {
  // Each entry: key "GET /n" (6) + header (12 + 10) + body 100 = 128 bytes.
  ResponseCache cache(limits(60s, 100, 8 * 128 + 50), clock);  // room for 8 entries
  for (int i = 0; i < 8; ++i)
    ASSERT_TRUE(cache.store("GET", path_of(i), "", response(std::string(100, 'x'))));
  EXPECT_EQ(cache.entries(), 8u);
  EXPECT_EQ(cache.bytes(), 8u * 128);
  ASSERT_TRUE(cache.lookup("GET", "/0", "", false));
  ASSERT_TRUE(cache.store("GET", "/8", "", response(std::string(100, 'x'))));
  EXPECT_EQ(cache.entries(), 8u);
  EXPECT_LE(cache.bytes(), 8u * 128 + 50);
  EXPECT_TRUE(cache.lookup("GET", "/0", "", false));
  EXPECT_FALSE(cache.lookup("GET", "/1", "", false));  // the least recently used went
}

TEST_F(CacheFixture, EntryAboveAnEighthOfMaxBytesIsNotStored) {
  ResponseCache cache(limits(60s, 100, 8000), clock);
  EXPECT_EQ(cache.max_entry_bytes(), 1000u);
  // key "GET /a" (6) + header (22) + body = exactly 1000 bytes: stored.
  EXPECT_TRUE(cache.store("GET", "/a", "", response(std::string(1000 - 28, 'x'))));
  EXPECT_TRUE(cache.lookup("GET", "/a", "", false));
  // One byte more: refused, and the older answer for the key goes too.
  EXPECT_FALSE(cache.store("GET", "/a", "", response(std::string(1000 - 27, 'x'))));
  EXPECT_FALSE(cache.lookup("GET", "/a", "", false));
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST_F(CacheFixture, CredentialsAreServedOnlyPublicEntries) {
  ResponseCache cache(limits(60s, 10, 1 << 20), clock);
  cache.store("GET", "/private", "", response("p"));
  cache.store("GET", "/public", "", response("q", true));
  EXPECT_TRUE(cache.lookup("GET", "/private", "", false));
  EXPECT_FALSE(cache.lookup("GET", "/private", "", true));
  EXPECT_TRUE(cache.lookup("GET", "/public", "", true));
}

TEST_F(CacheFixture, HitSurvivesEviction) {
  ResponseCache cache(limits(60s, 1, 1 << 20), clock);
  cache.store("GET", "/a", "", response("a"));
  const auto hit = cache.lookup("GET", "/a", "", false);
  ASSERT_TRUE(hit);
  cache.store("GET", "/b", "", response("b"));
  EXPECT_FALSE(cache.lookup("GET", "/a", "", false));
  EXPECT_EQ(hit->response->body, "a");  // still readable by the request serving it
}

TEST_F(CacheFixture, EraseAndClear) {
  ResponseCache cache(limits(60s, 10, 1 << 20), clock);
  cache.store("GET", "/a", "", response("a"));
  cache.store("GET", "/b", "", response("b"));
  cache.erase("GET", "/a", "");
  EXPECT_FALSE(cache.lookup("GET", "/a", "", false));
  EXPECT_TRUE(cache.lookup("GET", "/b", "", false));
  cache.clear();
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST_F(CacheFixture, ShrinkingLimitsEvicts) {
  ResponseCache cache(limits(60s, 10, 1 << 20), clock);
  for (int i = 0; i < 5; ++i) cache.store("GET", path_of(i), "", response("x"));
  cache.store("GET", "/big", "", response(std::string(5000, 'x')));
  cache.set_limits(limits(60s, 3, 8000));  // entries above 1000 bytes go, then LRU to 3
  EXPECT_EQ(cache.entries(), 3u);
  EXPECT_FALSE(cache.lookup("GET", "/big", "", false));
  EXPECT_TRUE(cache.lookup("GET", "/4", "", false));
  EXPECT_FALSE(cache.lookup("GET", "/1", "", false));
}

TEST_F(CacheFixture, ZeroBoundsStoreNothing) {
  ResponseCache none(limits(60s, 0, 1 << 20), clock);
  EXPECT_FALSE(none.store("GET", "/a", "", response("a")));
  ResponseCache no_ttl(limits(0s, 10, 1 << 20), clock);
  EXPECT_FALSE(no_ttl.store("GET", "/a", "", response("a")));
  EXPECT_FALSE(no_ttl.lookup("GET", "/a", "", false));
}

}  // namespace
