// One endpoint's own rules: url, name/version/id, methods, auth, merging, policies.
#include <gtest/gtest.h>

#include <initializer_list>

#include "test_util.hpp"

namespace gatehouse::config {
namespace {

using namespace std::chrono_literals;
using testing::endpoint;
using testing::first_endpoint;
using testing::has_error;
using testing::load;
using testing::ok;
using testing::only_error;

TEST(Url, Accepted) {
  struct Case {
    const char* url;
    bool https;
    const char* host;
    int port;
    bool port_explicit;
    const char* base;
  };
  for (const Case& c : {Case{"http://h", false, "h", 80, false, ""},
                        Case{"https://h/", true, "h", 443, false, ""},
                        Case{"HTTP://Api.Example.com:81/a/b/", false, "Api.Example.com", 81, true,
                             "/a/b"},
                        Case{"http://[::1]:9000/x", false, "::1", 9000, true, "/x"},
                        Case{"https://10.0.0.1:8443/api", true, "10.0.0.1", 8443, true, "/api"}}) {
    const std::string url = std::string("url: ") + c.url;
    const LoadResult r = endpoint({url, "name: a"});
    ASSERT_TRUE(ok(r)) << c.url;
    const UpstreamUrl& u = first_endpoint(r).url;
    EXPECT_EQ(u.text, c.url);
    EXPECT_EQ(u.https, c.https) << c.url;
    EXPECT_EQ(u.host, c.host) << c.url;
    EXPECT_EQ(u.port, c.port) << c.url;
    EXPECT_EQ(u.port_explicit, c.port_explicit) << c.url;
    EXPECT_EQ(u.base_path, c.base) << c.url;
  }
}

TEST(Url, Rejected) {
  struct Case {
    const char* url;
    const char* fragment;
  };
  for (const Case& c : {Case{"not a url", "must be an http:// or https:// URL"},
                        Case{"/relative/path", "must be an http:// or https:// URL"},
                        Case{"ftp://files.example.com", "must be an http:// or https:// URL"},
                        Case{"http:no-authority", "must be an http:// or https:// URL"},
                        Case{"http://user:pw@h", "must not carry userinfo"},
                        Case{"http://h/a#frag", "must not carry a fragment"},
                        Case{"http://h/a?x=1", "must not carry a query"},
                        Case{"http:///path", "must have a host"},
                        Case{"http://h:0", "port must be from 1 to 65535"},
                        Case{"http://h:70000", "port must be from 1 to 65535"},
                        Case{"http://h/a/../b", "\".\" or \"..\" segments"}}) {
    const std::string url = std::string("url: \"") + c.url + "\"";
    EXPECT_TRUE(only_error(endpoint({url, "name: a"}), "endpoints[0].url", 2, 10, c.fragment))
        << c.url;
  }
}

TEST(Url, IsRequired) {
  EXPECT_TRUE(only_error(endpoint({"name: a"}), "endpoints[0].url", 2, 5, "is required"));
}

TEST(Url, MustBeAUrlOrAList) {
  EXPECT_TRUE(only_error(endpoint({"name: a", "url: {url: http://h}"}), "endpoints[0].url", 3,
                         10, "must be a URL or a list of servers, got a mapping"));
  EXPECT_TRUE(only_error(endpoint({"name: a", "url:"}), "endpoints[0].url", 3, 5,
                         "must be a URL or a list of servers"));
  EXPECT_TRUE(ok(endpoint({"name: a", "url: [http://h]"})));
}

TEST(Ids, NameOrNameAtVersionOrUrl) {
  LoadResult r = endpoint({"url: http://h", "name: users"});
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(first_endpoint(r).id, "users");
  EXPECT_EQ(first_endpoint(r).prefix, "/users");
  EXPECT_FALSE(first_endpoint(r).prefix_explicit);

  r = endpoint({"url: http://h", "name: users", "version: v2"});
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(first_endpoint(r).id, "users@v2");
  EXPECT_EQ(first_endpoint(r).prefix, "/users/v2");

  r = endpoint({"url: http://h:81/x", "prefix: /x"});
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(first_endpoint(r).id, "http://h:81/x");
  EXPECT_EQ(first_endpoint(r).name, "");
  EXPECT_EQ(first_endpoint(r).prefix, "/x");
  EXPECT_TRUE(first_endpoint(r).prefix_explicit);
}

TEST(Ids, WithoutNameAPrefixIsRequired) {
  EXPECT_TRUE(only_error(endpoint({"url: http://h"}), "endpoints[0].prefix", 2, 5,
                         "is required when the endpoint has no name"));
}

TEST(Ids, VersionNeedsAName) {
  const LoadResult r = endpoint({"url: http://h", "version: v1", "prefix: /x"});
  EXPECT_TRUE(only_error(r, "endpoints[0].version", 3, 5, "needs a name"));
}

TEST(Ids, NameAndVersionCharacters) {
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: a/b"}), "endpoints[0].name", 3, 11,
                         "must not contain '/'"));
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: \"a b\""}), "endpoints[0].name", 3,
                         11, "whitespace"));
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: a@b"}), "endpoints[0].name", 3, 11,
                         "'@'"));
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: \"\""}), "endpoints[0].name", 3, 11,
                         "must not be empty"));
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: a", "version: v1/2"}),
                         "endpoints[0].version", 4, 14, "must not contain '/'"));
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: a", "version: \"\""}),
                         "endpoints[0].version", 4, 14, "must not be empty"));
}

TEST(Ids, DuplicatesReportTheLaterOneIncludingDisabled) {
  const LoadResult r = load(R"Y(
endpoints:
  - url: http://h1
    name: users
    version: v1
  - url: http://h2
    name: users
    version: v1
    prefix: /other
    disabled: true
  - url: http://h3
    prefix: /p3
  - url: http://h3
    prefix: /p4
)Y");
  ASSERT_EQ(r.errors.size(), 2u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "endpoints[1].name", 6, 11,
                        "duplicate endpoint id \"users@v1\" (first at line 3)"));
  EXPECT_TRUE(has_error(r, "endpoints[3].url", 12, 10,
                        "duplicate endpoint id \"http://h3\" (first at line 10)"));
}

TEST(Ids, SameNameDifferentVersionsAreDistinct) {
  const LoadResult r = load(R"Y(
endpoints:
  - {url: http://h1, name: users, version: v1}
  - {url: http://h2, name: users, version: v2}
  - {url: http://h3, name: users}
)Y");
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(r.config->endpoints[2].prefix, "/users");
}

TEST(Methods, UpperCasedAndDeduplicated) {
  const LoadResult r = endpoint({"url: http://h", "name: a", "methods: [get, POST, Get, purge]"});
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(first_endpoint(r).methods, (std::vector<std::string>{"GET", "POST", "PURGE"}));
}

TEST(Methods, InvalidTokensAndEmptyList) {
  const LoadResult r =
      endpoint({"url: http://h", "name: a", "methods: [GET, \"GE T\", \"G(ET\", \"\"]"});
  ASSERT_EQ(r.errors.size(), 3u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "endpoints[0].methods[1]", 4, 20, "not a valid HTTP method token"));
  EXPECT_TRUE(has_error(r, "endpoints[0].methods[2]", 4, 28, "not a valid HTTP method token"));
  EXPECT_TRUE(has_error(r, "endpoints[0].methods[3]", 4, 36, "must not be empty"));
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: a", "methods: []"}),
                         "endpoints[0].methods", 4, 14, "at least one method"));
}

TEST(Auth, JwtEndpointNeedsAuthJwt) {
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: a", "auth_type: jwt"}),
                         "endpoints[0].auth_type", 4, 16, "needs an auth.jwt section"));
}

TEST(Auth, ScopesNeedAuthTypeJwtAndAuthJwt) {
  const LoadResult r = endpoint({"url: http://h", "name: a", "scopes: [read]"});
  ASSERT_EQ(r.errors.size(), 2u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "endpoints[0].scopes", 4, 5, "needs auth_type: jwt"));
  EXPECT_TRUE(has_error(r, "endpoints[0].scopes", 4, 13, "needs an auth.jwt section"));
}

TEST(Auth, OtherAuthTypesAreInformational) {
  const LoadResult r = endpoint({"url: http://h", "name: a", "auth_type: bearer"});
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(first_endpoint(r).auth_type, "bearer");
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: a", "auth_type: \"\""}),
                         "endpoints[0].auth_type", 4, 16, "must not be empty"));
}

TEST(Merging, TimeoutsAndMaxBodyComeFromDefaultsAndLimits) {
  const LoadResult r = load(R"Y(
limits: {max_body: 3MiB}
defaults: {connect_timeout: 3s, timeout: 45s}
endpoints:
  - {url: http://h, name: a}
  - {url: http://h, name: b, connect_timeout: 100ms, max_body: 1KiB}
)Y");
  ASSERT_TRUE(ok(r));
  const auto& eps = r.config->endpoints;
  EXPECT_EQ(eps[0].connect_timeout, 3s);
  EXPECT_EQ(eps[0].timeout, 45s);
  EXPECT_EQ(eps[0].max_body, 3u * 1024 * 1024);
  EXPECT_EQ(eps[1].connect_timeout, 100ms);
  EXPECT_EQ(eps[1].timeout, 45s);
  EXPECT_EQ(eps[1].max_body, 1024u);
}

TEST(Merging, WithoutDefaultsTheBuiltInsApply) {
  const LoadResult r = endpoint({"url: http://h", "name: a"});
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(first_endpoint(r).health_check, HealthCheck{});
  EXPECT_EQ(first_endpoint(r).circuit_breaker, CircuitBreaker{});
  EXPECT_EQ(first_endpoint(r).connect_timeout, 2s);
  EXPECT_EQ(first_endpoint(r).timeout, 30s);
}

TEST(HealthCheck, FalseDisablesOtherScalarsAreErrors) {
  LoadResult r = endpoint({"url: http://h", "name: a", "health_check: false"});
  ASSERT_TRUE(ok(r));
  EXPECT_FALSE(first_endpoint(r).health_check->enabled);
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: a", "health_check: true"}),
                         "endpoints[0].health_check", 4, 19, "must be a mapping, or false"));
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: a", "health_check: \"false\""}),
                         "endpoints[0].health_check", 4, 19, "must be a mapping, or false"));
}

TEST(HealthCheck, Rules) {
  const LoadResult r = load(R"Y(
defaults:
  health_check:
    path: health
    interval: 0s
    healthy_threshold: 0
    unhealthy_threshold: 3s
    expected_status: "399-200"
)Y");
  ASSERT_EQ(r.errors.size(), 5u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "defaults.health_check.path", 3, 11, "must be an absolute path"));
  EXPECT_TRUE(has_error(r, "defaults.health_check.interval", 4, 15, "must be greater than 0"));
  EXPECT_TRUE(has_error(r, "defaults.health_check.healthy_threshold", 5, 24,
                        "must be a positive integer"));
  EXPECT_TRUE(has_error(r, "defaults.health_check.unhealthy_threshold", 6, 26,
                        "must be a positive integer"));
  EXPECT_TRUE(has_error(r, "defaults.health_check.expected_status", 7, 22,
                        "must be status codes (100-599) or ranges"));
}

TEST(HealthCheck, ExpectedStatusForms) {
  for (const char* good : {"200", "\"200\"", "\"200-399\"", "\"200, 204,300-399\"", "599"}) {
    EXPECT_TRUE(ok(load(std::string("defaults:\n  health_check:\n    expected_status: ") + good +
                        "\n")))
        << good;
  }
  for (const char* bad : {"\"\"", "\"abc\"", "\"200-\"", "99", "600", "\"200,,204\"", "[200]",
                          "\"2000\""}) {
    EXPECT_TRUE(only_error(
        load(std::string("defaults:\n  health_check:\n    expected_status: ") + bad + "\n"),
        "defaults.health_check.expected_status", 3, 22, "must be status codes"))
        << bad;
  }
}

TEST(CircuitBreaker, Rules) {
  const LoadResult r = endpoint({"url: http://h", "name: a",
                                 "circuit_breaker: {failure_threshold: 5s, reset_timeout: 10, "
                                 "half_open_requests: 0, failure_statuses: [502, x, 99], "
                                 "fallback_strategy: retry}"});
  ASSERT_EQ(r.errors.size(), 6u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "endpoints[0].circuit_breaker.failure_threshold", 4, 42,
                        "\"5s\": must be a positive integer"));
  EXPECT_TRUE(has_error(r, "endpoints[0].circuit_breaker.reset_timeout", 4, 61,
                        "\"10\": must be a duration"));
  EXPECT_TRUE(has_error(r, "endpoints[0].circuit_breaker.half_open_requests", 4, 85,
                        "\"0\": must be an integer from 1 to 32767"));
  EXPECT_TRUE(has_error(r, "endpoints[0].circuit_breaker.failure_statuses[1]", 4, 112,
                        "must be an integer from 100 to 599"));
  EXPECT_TRUE(has_error(r, "endpoints[0].circuit_breaker.failure_statuses[2]", 4, 115,
                        "must be an integer from 100 to 599"));
  EXPECT_TRUE(has_error(r, "endpoints[0].circuit_breaker.fallback_strategy", 4, 139,
                        "must be one of error, cached, default"));
}

TEST(Fallback, DefaultStrategyRequiresFallback) {
  EXPECT_TRUE(only_error(
      endpoint({"url: http://h", "name: a", "circuit_breaker: {fallback_strategy: default}"}),
      "endpoints[0].fallback", 2, 5, "is required"));
  EXPECT_TRUE(ok(endpoint({"url: http://h", "name: a",
                           "circuit_breaker: {fallback_strategy: default}",
                           "fallback: {body: x}"})));
}

TEST(Fallback, DefaultStrategyFromDefaultsAppliesToEveryEndpoint) {
  const LoadResult r = load(R"Y(
defaults:
  circuit_breaker: {fallback_strategy: default}
endpoints:
  - {url: http://h, name: a, fallback: {status: 200}}
  - {url: http://h, name: b}
  - {url: http://h, name: c, circuit_breaker: {fallback_strategy: error}}
)Y");
  EXPECT_TRUE(only_error(r, "endpoints[1].fallback", 5, 5, "is required"));
}

TEST(Fallback, Fields) {
  const LoadResult r = endpoint({"url: http://h", "name: a",
                                 "fallback: {status: 600, content_type: \"a\\nb\", body: [x]}"});
  ASSERT_EQ(r.errors.size(), 3u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "endpoints[0].fallback.status", 4, 24, "from 200 to 599"));
  EXPECT_TRUE(has_error(r, "endpoints[0].fallback.content_type", 4, 43, "control characters"));
  EXPECT_TRUE(has_error(r, "endpoints[0].fallback.body", 4, 57, "must be a string"));
  const LoadResult defaults = endpoint({"url: http://h", "name: a", "fallback: {body: \"\"}"});
  ASSERT_TRUE(ok(defaults));
  EXPECT_EQ(first_endpoint(defaults).fallback, Fallback{});
}

TEST(Cache, Fields) {
  const LoadResult r = endpoint(
      {"url: http://h", "name: a", "cache: {ttl: 0s, max_entries: 0, max_bytes: 8MB}"});
  ASSERT_EQ(r.errors.size(), 3u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "endpoints[0].cache.ttl", 4, 18, "must be greater than 0"));
  EXPECT_TRUE(has_error(r, "endpoints[0].cache.max_entries", 4, 35, "positive integer"));
  EXPECT_TRUE(has_error(r, "endpoints[0].cache.max_bytes", 4, 49, "must be a size"));
}

TEST(UpstreamTls, OnlyForHttpsAndFilesMustBeUsable) {
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: a", "tls: {verify: false}"}),
                         "endpoints[0].tls", 4, 5, "https:// upstreams only"));
  EXPECT_TRUE(only_error(
      endpoint({"url: https://h", "name: a", "tls: {ca_file: ../keys/nope.pem}"}),
      "endpoints[0].tls.ca_file", 4, 20, "cannot read"));
  EXPECT_TRUE(only_error(
      endpoint({"url: https://h", "name: a", "tls: {ca_file: ../keys/rsa2048.pub.pem}"}),
      "endpoints[0].tls.ca_file", 4, 20, "holds no PEM certificate"));
  EXPECT_TRUE(only_error(endpoint({"url: https://h", "name: a", "tls: {verify: \"no\"}"}),
                         "endpoints[0].tls.verify", 4, 19, "must be true or false"));
  const LoadResult r = endpoint({"url: https://h", "name: a", "tls: {server_name: api.internal}"});
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(first_endpoint(r).tls->server_name, "api.internal");
  EXPECT_TRUE(first_endpoint(r).tls->verify);
  EXPECT_FALSE(first_endpoint(r).tls->ca_file);
}

TEST(Disabled, DisabledEndpointsAreValidatedToo) {
  const LoadResult r = endpoint({"url: ftp://h", "name: a", "disabled: true", "timeout: 10"});
  ASSERT_EQ(r.errors.size(), 2u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "endpoints[0].url", 2, 10, "must be an http:// or https:// URL"));
  EXPECT_TRUE(has_error(r, "endpoints[0].timeout", 5, 14, "must be a duration"));
  EXPECT_TRUE(only_error(endpoint({"url: http://h", "name: a", "disabled: 1"}),
                         "endpoints[0].disabled", 4, 15, "must be true or false"));
}

TEST(Disabled, KeptInTheConfig) {
  const LoadResult r = endpoint({"url: http://h", "name: a", "disabled: true"});
  ASSERT_TRUE(ok(r));
  ASSERT_EQ(r.config->endpoints.size(), 1u);
  EXPECT_TRUE(first_endpoint(r).disabled);
}

}  // namespace
}  // namespace gatehouse::config
