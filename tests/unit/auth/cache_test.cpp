// The verified-token cache: hits, exp/nbf re-checked on every hit, the bound, clear().
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "auth/token_cache.hpp"
#include "test_support.hpp"

namespace gatehouse::auth {
namespace {

using namespace testing;

std::string hs_token(std::int64_t exp, std::string_view extra = "") {
  return make_token(header_json("HS256"), claims_json(extra, exp), "HS256");
}

TEST(Cache, HitReturnsTheCachedResult) {
  auto h = make_verifier(jwt_config({"HS256"}), 100);
  const auto token = hs_token(kNow + 600, "\"scope\":\"a b\"");
  const auto first = h.verifier->verify(token);
  ASSERT_TRUE(first.ok()) << first.reason;
  EXPECT_EQ(h.verifier->cache_size(), 1u);
  const auto second = h.verifier->verify(token);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.token.get(), first.token.get());  // the same object: no re-verification
  EXPECT_EQ(second.token->scopes, (std::vector<std::string>{"a", "b"}));
  // verify_uncached builds a fresh result.
  EXPECT_NE(h.verifier->verify_uncached(token).token.get(), first.token.get());
}

TEST(Cache, FailuresAreNotCached) {
  auto h = make_verifier(jwt_config({"HS256"}), 100);
  auto token = hs_token(kNow + 600);
  token.back() = token.back() == 'A' ? 'Q' : 'A';
  EXPECT_FALSE(h.verifier->verify(token).ok());
  EXPECT_EQ(h.verifier->cache_size(), 0u);
}

TEST(Cache, ExpIsRecheckedOnEveryHit) {
  auto h = make_verifier(jwt_config({"HS256"}), 100);
  const auto token = hs_token(kNow + 60);
  ASSERT_TRUE(h.verifier->verify(token).ok());
  h.clock->advance(60 + 29);  // within leeway (30 s)
  EXPECT_TRUE(h.verifier->verify(token).ok());
  h.clock->advance(1);
  EXPECT_EQ(h.verifier->verify(token).error, VerifyError::expired);
  EXPECT_EQ(h.verifier->cache_size(), 0u);  // dropped once expired
}

TEST(Cache, NbfIsRecheckedOnHit) {
  auto h = make_verifier(jwt_config({"HS256"}), 100);
  // nbf 20 s ahead is inside the leeway at insertion; a clock stepped back makes it
  // not yet valid again, and the hit must say so.
  const auto token = hs_token(kNow + 600, "\"nbf\":" + std::to_string(kNow + 20));
  ASSERT_TRUE(h.verifier->verify(token).ok());
  h.clock->set(kNow - 20);
  EXPECT_EQ(h.verifier->verify(token).error, VerifyError::not_yet_valid);
}

TEST(Cache, IsBounded) {
  auto h = make_verifier(jwt_config({"HS256"}), 64);
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(h.verifier->verify(hs_token(kNow + 600, "\"n\":" + std::to_string(i))).ok());
  }
  EXPECT_LE(h.verifier->cache_size(), 64u);
  EXPECT_GT(h.verifier->cache_size(), 0u);
}

TEST(Cache, EvictsLeastRecentlyUsed) {
  TokenCache cache(2, 1 << 20, 1);
  auto v = std::make_shared<VerifiedToken>();
  cache.insert("a", v);
  cache.insert("b", v);
  ASSERT_TRUE(cache.find("a"));  // a is now the most recent
  cache.insert("c", v);
  EXPECT_TRUE(cache.find("a"));
  EXPECT_FALSE(cache.find("b"));
  EXPECT_TRUE(cache.find("c"));
  EXPECT_EQ(cache.size(), 2u);
}

// Buckets are picked from the token's last bytes (the signature's) and its length; a
// hit still needs the whole token. Tokens alike there and different before are
// different entries, and a made-up one that shares a stored token's tail is a miss.
TEST(Cache, TokensWithTheSameTailAreStillDifferentEntries) {
  TokenCache cache(100, 1 << 20, 4);
  const std::string tail(40, 's');
  auto a = std::make_shared<VerifiedToken>();
  a->subject = "a";
  auto b = std::make_shared<VerifiedToken>();
  b->subject = "b";
  cache.insert("header.payloadA." + tail, a);
  cache.insert("header.payloadB." + tail, b);
  EXPECT_EQ(cache.size(), 2u);
  ASSERT_TRUE(cache.find("header.payloadA." + tail));
  EXPECT_EQ(cache.find("header.payloadA." + tail)->subject, "a");
  ASSERT_TRUE(cache.find("header.payloadB." + tail));
  EXPECT_EQ(cache.find("header.payloadB." + tail)->subject, "b");
  EXPECT_FALSE(cache.find("header.payloadC." + tail));
  cache.erase("header.payloadA." + tail);
  EXPECT_FALSE(cache.find("header.payloadA." + tail));
  EXPECT_TRUE(cache.find("header.payloadB." + tail));
}

TEST(Cache, ByteBound) {
  TokenCache cache(100, 1000, 1);
  auto v = std::make_shared<VerifiedToken>();
  for (int i = 0; i < 10; ++i) cache.insert(std::string(300, static_cast<char>('a' + i)), v);
  EXPECT_EQ(cache.size(), 3u);
}

TEST(Cache, ClearFlushes) {
  auto h = make_verifier(jwt_config({"HS256"}), 100);
  const auto token = hs_token(kNow + 600);
  const auto first = h.verifier->verify(token);
  ASSERT_TRUE(first.ok());
  h.verifier->clear_cache();
  EXPECT_EQ(h.verifier->cache_size(), 0u);
  EXPECT_NE(h.verifier->verify(token).token.get(), first.token.get());
}

// A thread's front of the caches (verifier.cpp) answers only for the verifier that
// stored the token: a verifier with other keys (after a reload, say) checks the token
// itself, and refuses it.
TEST(Cache, AFrontEntryNeverAnswersForAnotherVerifier) {
  auto a = make_verifier(jwt_config({"HS256"}), 100);
  auto other = jwt_config({"HS256"});
  other.hmac_secret = "another secret, another verifier, not the test one";
  auto b = make_verifier(other, 100);
  ASSERT_TRUE(a.verifier && b.verifier) << a.error << b.error;
  const auto token = hs_token(kNow + 600);
  ASSERT_TRUE(a.verifier->verify(token).ok());
  ASSERT_TRUE(a.verifier->verify(token).ok());  // a front hit now
  EXPECT_EQ(b.verifier->verify(token).error, VerifyError::signature_mismatch);
  EXPECT_TRUE(a.verifier->verify(token).ok());
}

// Front slots are picked by the token's last 16 bytes and its length; a hit needs the
// whole token. A forged token sharing an accepted one's signature and length is
// checked, and refused.
TEST(Cache, AFrontHitNeedsTheWholeToken) {
  auto h = make_verifier(jwt_config({"HS256"}), 100);
  const auto token = hs_token(kNow + 600, "\"sub\":\"alice\"");
  ASSERT_TRUE(h.verifier->verify(token).ok());
  std::string forged = token;
  const auto at = forged.find('.') + 1;  // a payload byte
  forged[at] = forged[at] == 'A' ? 'B' : 'A';
  ASSERT_EQ(forged.size(), token.size());
  EXPECT_FALSE(h.verifier->verify(forged).ok());
  EXPECT_TRUE(h.verifier->verify(token).ok());
}

TEST(Cache, ConcurrentUse) {
  auto h = make_verifier(jwt_config({"HS256"}), 32);
  std::vector<std::string> tokens;
  for (int i = 0; i < 64; ++i) tokens.push_back(hs_token(kNow + 600, "\"n\":" + std::to_string(i)));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        if (!h.verifier->verify(tokens[(i * 7 + t) % tokens.size()]).ok()) ++failures;
        if (t == 0 && i % 500 == 0) h.verifier->clear_cache();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(h.verifier->cache_size(), 32u);
}

}  // namespace
}  // namespace gatehouse::auth
