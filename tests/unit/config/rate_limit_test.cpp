// rate_limit (defaults and endpoints) and the redis section (SPEC sections 2 and 14).
#include <gtest/gtest.h>
#include <stdlib.h>

#include "config/diff.hpp"
#include "test_util.hpp"

namespace gatehouse::config {
namespace {

using namespace std::chrono_literals;
using testing::has_error;
using testing::load;
using testing::ok;
using testing::only_error;

TEST(RateLimit, EndpointOverridesDefaultsFieldByField) {
  const auto r = load(R"(
defaults:
  rate_limit: {requests: 100, per: 1s, burst: 50}
endpoints:
  - {url: "http://127.0.0.1:9001", name: a}
  - {url: "http://127.0.0.1:9002", name: b, rate_limit: {requests: 5, key: "header:X-User"}}
  - {url: "http://127.0.0.1:9003", name: c, rate_limit: false}
)");
  ASSERT_TRUE(ok(r));
  const auto& eps = r.config->endpoints;
  ASSERT_TRUE(eps[0].rate_limit);
  EXPECT_EQ(eps[0].rate_limit->requests, 100u);
  EXPECT_EQ(eps[0].rate_limit->burst, 50u);
  EXPECT_EQ(eps[0].rate_limit->key, "client_ip");
  ASSERT_TRUE(eps[1].rate_limit);
  EXPECT_EQ(eps[1].rate_limit->requests, 5u);
  EXPECT_EQ(eps[1].rate_limit->burst, 50u);
  EXPECT_EQ(eps[1].rate_limit->per, 1s);
  EXPECT_EQ(eps[1].rate_limit->key, "header:X-User");
  EXPECT_FALSE(eps[2].rate_limit);
}

TEST(RateLimit, EachRuleNamesKeyLineAndColumn) {
  EXPECT_TRUE(only_error(load(R"(
endpoints:
  - url: "http://127.0.0.1:9001"
    name: a
    rate_limit: {requests: 0}
)"), "endpoints[0].rate_limit.requests", 4, 28, "must be"));
  EXPECT_TRUE(only_error(load(R"(
endpoints:
  - url: "http://127.0.0.1:9001"
    name: a
    rate_limit: {requests: 1, per: 0s}
)"), "endpoints[0].rate_limit.per", 4, 36, "greater than 0"));
  EXPECT_TRUE(only_error(load(R"(
endpoints:
  - url: "http://127.0.0.1:9001"
    name: a
    rate_limit: {per: 1s}
)"), "endpoints[0].rate_limit.requests", 4, 17, "is required"));
  EXPECT_TRUE(only_error(load(R"(
endpoints:
  - url: "http://127.0.0.1:9001"
    name: a
    rate_limit: {requests: 1, key: cookie}
)"), "endpoints[0].rate_limit.key", 4, 36, "must be client_ip, header:NAME"));
  EXPECT_TRUE(only_error(load(R"(
endpoints:
  - url: "http://127.0.0.1:9001"
    name: a
    rate_limit: {requests: 1, key: "jwt_claim:sub"}
)"), "endpoints[0].rate_limit.key", 4, 36, "auth_type: jwt"));
  EXPECT_TRUE(only_error(load(R"(
endpoints:
  - url: "http://127.0.0.1:9001"
    name: a
    rate_limit: {requests: 1, shared: true}
)"), "endpoints[0].rate_limit.shared", 4, 39, "redis"));
  EXPECT_TRUE(only_error(load(R"(
endpoints:
  - url: "http://127.0.0.1:9001"
    name: a
    rate_limit: {requests: 1, burts: 3}
)"), "endpoints[0].rate_limit.burts", 4, 31, "burst"));
}

TEST(RateLimit, InheritedKeyIsBlamedOnEveryEndpointItBreaks) {
  const auto r = load(R"(
defaults:
  rate_limit: {requests: 1, key: "jwt_claim:sub"}
endpoints:
  - {url: "http://127.0.0.1:9001", name: a}
)");
  EXPECT_TRUE(has_error(r, "endpoints[0].rate_limit.key", 2, 34, "set in defaults.rate_limit"));
}

TEST(Redis, UrlForms) {
  const auto r = load(R"(
redis: {url: "rediss://cache.internal:6380/3", timeout: 20ms, on_error: deny}
)");
  ASSERT_TRUE(ok(r));
  const auto& redis = *r.config->redis;
  EXPECT_TRUE(redis.tls);
  EXPECT_EQ(redis.host, "cache.internal");
  EXPECT_EQ(redis.port, 6380);
  EXPECT_EQ(redis.db, 3u);
  EXPECT_EQ(redis.timeout, 20ms);
  EXPECT_TRUE(redis.deny_on_error);
  const auto plain = load("redis: {url: \"redis://[::1]\"}\n");
  ASSERT_TRUE(ok(plain));
  EXPECT_EQ(plain.config->redis->host, "::1");
  EXPECT_EQ(plain.config->redis->port, 6379);
  EXPECT_FALSE(plain.config->redis->deny_on_error);
  EXPECT_EQ(plain.config->redis->timeout, 50ms);
}

TEST(Redis, Rejected) {
  EXPECT_TRUE(only_error(load("redis: {url: \"http://x\"}\n"), "redis.url", 1, 14, "redis:// or rediss://"));
  EXPECT_TRUE(only_error(load("redis: {url: \"redis://u:p@x\"}\n"), "redis.url", 1, 14, "password_env"));
  EXPECT_TRUE(only_error(load("redis: {url: \"redis://x/db\"}\n"), "redis.url", 1, 14, "database number"));
  EXPECT_TRUE(only_error(load("redis: {url: \"redis://x\", on_error: maybe}\n"), "redis.on_error", 1, 37, "allow, deny"));
  EXPECT_TRUE(only_error(load("redis: {url: \"redis://x\", timeout: 0s}\n"), "redis.timeout", 1, 36, "greater than 0"));
  EXPECT_TRUE(only_error(load("redis: {timeout: 1s}\n"), "redis.url", 1, 8, "is required"));
  EXPECT_TRUE(only_error(load("redis: {url: \"redis://x\", tls: {verify: false}}\n"), "redis.tls", 1, 27, "rediss://"));
  ::unsetenv("GH_TEST_UNSET_REDIS_PW");
  EXPECT_TRUE(only_error(load("redis: {url: \"redis://x\", password_env: GH_TEST_UNSET_REDIS_PW}\n"),
                         "redis.password_env", 1, 41, "not set"));
}

TEST(Redis, PasswordFromEnvironment) {
  ::setenv("GH_TEST_REDIS_PW", "s3cret", 1);
  const auto r = load("redis: {url: \"redis://x\", password_env: GH_TEST_REDIS_PW}\n");
  ::unsetenv("GH_TEST_REDIS_PW");
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(r.config->redis->password, "s3cret");
}

TEST(RateLimitDiff, ChangedRateLimitIsAnUpdate) {
  const auto a = load("endpoints:\n  - {url: \"http://127.0.0.1:9001\", name: a, rate_limit: {requests: 5}}\n");
  const auto b = load("endpoints:\n  - {url: \"http://127.0.0.1:9001\", name: a, rate_limit: {requests: 6}}\n");
  const auto c = load("endpoints:\n  - {url: \"http://127.0.0.1:9001\", name: a, rate_limit: {requests: 5, per: 1s}}\n");
  ASSERT_TRUE(ok(a) && ok(b) && ok(c));
  EXPECT_EQ(diff(*a.config, *b.config).updated, std::vector<std::string>{"a"});
  EXPECT_EQ(diff(*a.config, *c.config).unchanged, std::vector<std::string>{"a"});
}

}  // namespace
}  // namespace gatehouse::config
