// The valid fixtures: every key parsed, defaults merged.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.hpp"

namespace gatehouse::config {
namespace {

using namespace std::chrono_literals;
using testing::fixtures;
using testing::ok;

constexpr const char* kSecret = "0123456789abcdef0123456789abcdef!";

class FullConfig : public ::testing::Test {
 protected:
  void SetUp() override {
    result_ = load_from_file(fixtures() + "/config/full.yaml");
    ASSERT_TRUE(ok(result_));
  }
  const Config& cfg() const { return *result_.config; }

  testing::ScopedEnv env_{"GATEHOUSE_TEST_JWT_SECRET", kSecret};
  LoadResult result_;
};

TEST_F(FullConfig, TopLevel) {
  EXPECT_EQ(cfg().path, fixtures() + "/config/full.yaml");
  EXPECT_EQ(cfg().listen, "[::1]:9090");
  EXPECT_EQ(cfg().listen_host, "::1");
  EXPECT_EQ(cfg().listen_port, 9090);
  EXPECT_EQ(cfg().threads, 4u);
  EXPECT_EQ(cfg().shutdown_grace, 0ms);
  EXPECT_TRUE(cfg().watch);
  EXPECT_FALSE(cfg().tls);
  EXPECT_EQ(cfg().log.level, "warning");
  EXPECT_EQ(cfg().log.format, "json");
  EXPECT_FALSE(cfg().log.access_log);
  EXPECT_EQ(cfg().sha256.size(), 64u);
}

TEST_F(FullConfig, Limits) {
  const Limits& l = cfg().limits;
  EXPECT_EQ(l.max_request_line, 4096u);
  EXPECT_EQ(l.max_header_bytes, 16384u);
  EXPECT_EQ(l.max_headers, 50u);
  EXPECT_EQ(l.max_body, 2u * 1024 * 1024);
  EXPECT_EQ(l.header_timeout, 5s);
  EXPECT_EQ(l.idle_timeout, 120s);
  EXPECT_EQ(l.max_connections, 500u);
}

TEST_F(FullConfig, Auth) {
  ASSERT_TRUE(cfg().auth.jwt);
  const Jwt& jwt = *cfg().auth.jwt;
  EXPECT_EQ(jwt.algorithms, (std::vector<std::string>{"RS256", "PS384", "HS512"}));
  EXPECT_EQ(jwt.hmac_secret_env, "GATEHOUSE_TEST_JWT_SECRET");
  EXPECT_EQ(jwt.hmac_secret, kSecret);
  EXPECT_FALSE(jwt.hmac_secret_file);
  ASSERT_TRUE(jwt.public_key_file);
  // Resolved against the config file's directory.
  EXPECT_EQ(std::filesystem::path(*jwt.public_key_file),
            std::filesystem::path(fixtures() + "/config/../keys/rsa2048.pub.pem"));
  EXPECT_FALSE(jwt.jwks_file);
  EXPECT_EQ(jwt.issuer, "https://id.example.com");
  EXPECT_EQ(jwt.audience, "gatehouse");
  EXPECT_EQ(jwt.leeway, 0ms);
  EXPECT_EQ(jwt.scope_claim, "scp");
  EXPECT_EQ(cfg().auth.scopes.stats, "ops:read");
  EXPECT_EQ(cfg().auth.scopes.reload, "ops:write");
  EXPECT_EQ(cfg().auth.scopes.metrics, "");
}

TEST_F(FullConfig, Defaults) {
  EXPECT_EQ(cfg().default_connect_timeout, 1500ms);
  EXPECT_EQ(cfg().default_timeout, 20s);
}

TEST_F(FullConfig, EndpointWithEveryKey) {
  ASSERT_EQ(cfg().endpoints.size(), 3u);
  const Endpoint& ep = cfg().endpoints[0];
  EXPECT_EQ(ep.index, 0u);
  EXPECT_EQ(ep.line, 53);
  EXPECT_EQ(ep.column, 5);
  EXPECT_EQ(ep.url.text, "https://users.internal:8443/api/");
  EXPECT_TRUE(ep.url.https);
  EXPECT_EQ(ep.url.host, "users.internal");
  EXPECT_EQ(ep.url.port, 8443);
  EXPECT_TRUE(ep.url.port_explicit);
  EXPECT_EQ(ep.url.base_path, "/api");
  EXPECT_EQ(ep.name, "users");
  EXPECT_EQ(ep.version, "v1");
  EXPECT_EQ(ep.id, "users@v1");
  EXPECT_EQ(ep.methods, (std::vector<std::string>{"GET", "POST"}));
  EXPECT_EQ(ep.auth_type, "jwt");
  EXPECT_FALSE(ep.disabled);
  EXPECT_EQ(ep.prefix, "/users/v1");
  EXPECT_FALSE(ep.prefix_explicit);
  EXPECT_FALSE(ep.strip_prefix);
  EXPECT_TRUE(ep.preserve_host);
  EXPECT_FALSE(ep.websocket);
  EXPECT_EQ(ep.scopes, (std::vector<std::string>{"users:read"}));
  EXPECT_EQ(ep.connect_timeout, 250ms);
  EXPECT_EQ(ep.timeout, 10s);
  EXPECT_EQ(ep.max_body, 1024u * 1024);
  ASSERT_TRUE(ep.tls->ca_file);
  EXPECT_EQ(std::filesystem::path(*ep.tls->ca_file),
            std::filesystem::path(fixtures() + "/config/../keys/ca.pem"));
  EXPECT_EQ(ep.tls->server_name, "users.internal");
  EXPECT_FALSE(ep.tls->verify);
  ASSERT_TRUE(ep.fallback);
  EXPECT_EQ(ep.fallback->status, 503);
  EXPECT_EQ(ep.fallback->content_type, "text/plain");
  EXPECT_EQ(ep.fallback->body, "try later");
  EXPECT_EQ(ep.cache.ttl, 30s);
  EXPECT_EQ(ep.cache.max_entries, 10u);
  EXPECT_EQ(ep.cache.max_bytes, 64u * 1024);
}

TEST_F(FullConfig, EndpointOverridesMergeWithDefaultsFieldByField) {
  const Endpoint& ep = cfg().endpoints[0];
  const HealthCheck& hc = *ep.health_check;
  EXPECT_TRUE(hc.enabled);
  EXPECT_EQ(hc.path, "/ping");                   // endpoint
  EXPECT_EQ(hc.expected_status_text, "204");     // endpoint
  ASSERT_EQ(hc.expected_status.size(), 1u);
  EXPECT_EQ(hc.expected_status[0].lo, 204);
  EXPECT_EQ(hc.expected_status[0].hi, 204);
  EXPECT_EQ(hc.interval, 5s);                    // defaults
  EXPECT_EQ(hc.timeout, 1s);
  EXPECT_EQ(hc.healthy_threshold, 3u);
  EXPECT_EQ(hc.unhealthy_threshold, 4u);

  const CircuitBreaker& cb = *ep.circuit_breaker;
  EXPECT_EQ(cb.failure_threshold, 3u);           // endpoint
  EXPECT_EQ(cb.fallback_strategy, "default");    // endpoint
  EXPECT_EQ(cb.reset_timeout, 60s);              // defaults
  EXPECT_EQ(cb.half_open_requests, 2u);
  EXPECT_EQ(cb.failure_statuses, (std::vector<int>{500, 502}));
}

TEST_F(FullConfig, EndpointInheritingEverything) {
  const Endpoint& ep = cfg().endpoints[1];
  EXPECT_EQ(ep.id, "orders");
  EXPECT_EQ(ep.prefix, "/orders");
  EXPECT_FALSE(ep.url.https);
  EXPECT_EQ(ep.url.host, "127.0.0.1");
  EXPECT_EQ(ep.url.port, 9002);
  EXPECT_EQ(ep.url.base_path, "");
  EXPECT_TRUE(ep.methods.empty());
  EXPECT_EQ(ep.auth_type, "");
  EXPECT_TRUE(ep.strip_prefix);
  EXPECT_FALSE(ep.preserve_host);
  EXPECT_TRUE(ep.websocket);  // the default
  EXPECT_EQ(ep.connect_timeout, 1500ms);
  EXPECT_EQ(ep.timeout, 20s);
  EXPECT_EQ(ep.max_body, 2u * 1024 * 1024);  // limits.max_body
  EXPECT_TRUE(ep.tls->verify);
  EXPECT_FALSE(ep.health_check->enabled);     // health_check: false
  EXPECT_EQ(ep.circuit_breaker->failure_threshold, 7u);
  EXPECT_EQ(ep.circuit_breaker->fallback_strategy, "cached");
  EXPECT_EQ(ep.circuit_breaker->failure_statuses, (std::vector<int>{500, 502}));
  EXPECT_FALSE(ep.fallback);
  EXPECT_EQ(ep.cache, Cache{});
}

TEST_F(FullConfig, DefaultsHealthCheckExpectedStatusList) {
  // The third endpoint inherits the defaults' "200,204,300-399".
  const HealthCheck& hc = *cfg().endpoints[2].health_check;
  EXPECT_EQ(hc.expected_status_text, "200,204,300-399");
  ASSERT_EQ(hc.expected_status.size(), 3u);
  EXPECT_EQ(hc.expected_status[0].lo, 200);
  EXPECT_EQ(hc.expected_status[0].hi, 200);
  EXPECT_EQ(hc.expected_status[1].lo, 204);
  EXPECT_EQ(hc.expected_status[2].lo, 300);
  EXPECT_EQ(hc.expected_status[2].hi, 399);
  EXPECT_EQ(hc.path, "/status");
}

TEST_F(FullConfig, UnnamedDisabledEndpoint) {
  const Endpoint& ep = cfg().endpoints[2];
  EXPECT_EQ(ep.index, 2u);
  EXPECT_EQ(ep.id, "http://[::1]:9003/legacy");
  EXPECT_EQ(ep.url.host, "::1");
  EXPECT_EQ(ep.url.base_path, "/legacy");
  EXPECT_EQ(ep.prefix, "/old/api");
  EXPECT_TRUE(ep.prefix_explicit);
  EXPECT_TRUE(ep.disabled);
}

TEST(MinimalConfig, EverythingElseDefaults) {
  const LoadResult r = load_from_file(fixtures() + "/config/minimal.yaml");
  ASSERT_TRUE(ok(r));
  const Config& c = *r.config;
  const Config d;
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.listen_host, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_EQ(c.threads, 0u);
  EXPECT_EQ(c.shutdown_grace, 15s);
  EXPECT_FALSE(c.watch);
  EXPECT_EQ(c.log.level, "info");
  EXPECT_EQ(c.limits.max_body, d.limits.max_body);
  EXPECT_FALSE(c.auth.jwt);
  EXPECT_EQ(c.auth.scopes.stats, "gatehouse:stats");
  EXPECT_TRUE(c.endpoints.empty());
}

TEST(Sha256, IsTheDigestOfTheFileBytes) {
  const LoadResult r = load_from_string("listen: 127.0.0.1:8080\n", "x.yaml");
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(r.config->sha256, "d39d0ff40a9b3871880999a1ba603e8cb11e841856d7f7f92f51dcaba2bb6eda");
  EXPECT_EQ(r.config->path, "x.yaml");
}

}  // namespace
}  // namespace gatehouse::config
