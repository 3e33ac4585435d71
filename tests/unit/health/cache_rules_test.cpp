#include "health/cache_rules.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace gatehouse;
using namespace gatehouse::health;

namespace {

CacheControl cc(std::string_view v) {
  CacheControl out;
  parse_cache_control(v, out);
  return out;
}

bool storable_with(std::string_view method, bool creds, int status,
                   std::vector<http::Field> fields) {
  return storable(method, creds, status, std::span<const http::Field>(fields));
}

TEST(CacheRules, MethodsGetAndHeadOnly) {
  EXPECT_TRUE(storable_with("GET", false, 200, {}));
  EXPECT_TRUE(storable_with("HEAD", false, 200, {}));
  EXPECT_FALSE(storable_with("POST", false, 200, {}));
  EXPECT_FALSE(storable_with("PUT", false, 200, {}));
  EXPECT_FALSE(storable_with("DELETE", false, 200, {}));
  EXPECT_FALSE(storable_with("get", false, 200, {}));  // methods are case-sensitive
}

TEST(CacheRules, TwoHundredsOnly) {
  EXPECT_FALSE(storable_with("GET", false, 199, {}));
  EXPECT_TRUE(storable_with("GET", false, 201, {}));
  EXPECT_TRUE(storable_with("GET", false, 204, {}));
  EXPECT_FALSE(storable_with("GET", false, 206, {}));  // partial content is not the resource
  EXPECT_TRUE(storable_with("GET", false, 299, {}));
  EXPECT_FALSE(storable_with("GET", false, 301, {}));
  EXPECT_FALSE(storable_with("GET", false, 404, {}));
  EXPECT_FALSE(storable_with("GET", false, 503, {}));
}

TEST(CacheRules, NeverWithSetCookiePrivateOrNoStore) {
  EXPECT_FALSE(storable_with("GET", false, 200, {{"Set-Cookie", "a=b"}}));
  EXPECT_FALSE(
      storable_with("GET", false, 200, {{"set-cookie", "a=b"}, {"Cache-Control", "public"}}));
  EXPECT_FALSE(storable_with("GET", false, 200, {{"Cache-Control", "private"}}));
  EXPECT_FALSE(storable_with("GET", false, 200, {{"Cache-Control", "max-age=60, Private"}}));
  EXPECT_FALSE(storable_with("GET", false, 200, {{"Cache-Control", "private=\"Set-Cookie, X\""}}));
  EXPECT_FALSE(storable_with("GET", false, 200, {{"cache-control", "NO-STORE"}}));
  EXPECT_FALSE(storable_with("GET", false, 200,
                             {{"Cache-Control", "public"}, {"Cache-Control", "no-store"}}));
  EXPECT_TRUE(storable_with("GET", false, 200, {{"Cache-Control", "max-age=60, no-cache"}}));
}

TEST(CacheRules, CredentialsNeedPublic) {
  EXPECT_FALSE(storable_with("GET", true, 200, {}));
  EXPECT_FALSE(storable_with("GET", true, 200, {{"Cache-Control", "max-age=60"}}));
  EXPECT_TRUE(storable_with("GET", true, 200, {{"Cache-Control", "public, max-age=60"}}));
  EXPECT_TRUE(storable_with("HEAD", true, 200, {{"Cache-Control", "max-age=60 , PUBLIC"}}));
  EXPECT_FALSE(storable_with("GET", true, 200, {{"Cache-Control", "public, private"}}));
}

TEST(CacheRules, DirectiveParsing) {
  const auto a = cc("max-age=60, public");
  EXPECT_TRUE(a.is_public);
  EXPECT_FALSE(a.is_private);
  EXPECT_FALSE(a.no_store);
  // Names inside quoted arguments are not directives.
  const auto b = cc("no-cache=\"private, no-store\", public");
  EXPECT_TRUE(b.is_public);
  EXPECT_FALSE(b.is_private);
  EXPECT_FALSE(b.no_store);
  // Prefixes of directive names do not count.
  const auto c = cc("publicity, private-ish, no-stored");
  EXPECT_FALSE(c.is_public);
  EXPECT_FALSE(c.is_private);
  EXPECT_FALSE(c.no_store);
  const auto d = cc(",, no-store ,");
  EXPECT_TRUE(d.no_store);
  const auto e = cc("x=\"a\\\"b, private\", no-store");
  EXPECT_FALSE(e.is_private);
  EXPECT_TRUE(e.no_store);
}

TEST(CacheRules, PureFunctionForm) {
  CacheControl pub;
  pub.is_public = true;
  EXPECT_TRUE(storable("GET", false, 200, CacheControl{}, false));
  EXPECT_FALSE(storable("GET", false, 200, CacheControl{}, true));
  EXPECT_FALSE(storable("GET", true, 200, CacheControl{}, false));
  EXPECT_TRUE(storable("GET", true, 200, pub, false));
  EXPECT_FALSE(storable("GET", true, 200, pub, true));
}

TEST(CacheRules, RequestCredentials) {
  std::vector<http::Field> none{{"Accept", "*/*"}, {"X-Authorization", "x"}};
  std::vector<http::Field> auth{{"authorization", "Bearer x"}};
  std::vector<http::Field> cookie{{"Accept", "*/*"}, {"COOKIE", "a=b"}};
  EXPECT_FALSE(has_credentials(none));
  EXPECT_TRUE(has_credentials(auth));
  EXPECT_TRUE(has_credentials(cookie));
}

}  // namespace
