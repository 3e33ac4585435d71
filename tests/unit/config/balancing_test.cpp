// Several servers per endpoint (SPEC sections 2 and 13): `url` as a list, load_balancing,
// hash_key, retries (endpoint and defaults), every validation rule with its position.
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

TEST(Servers, OneUrlIsOneServer) {
  const LoadResult r = endpoint({"url: http://h:9001/api", "name: a"});
  ASSERT_TRUE(ok(r));
  const Endpoint& ep = first_endpoint(r);
  ASSERT_EQ(ep.servers.size(), 1u);
  EXPECT_EQ(ep.servers[0].url, ep.url);
  EXPECT_EQ(ep.servers[0].weight, 1u);
  EXPECT_EQ(ep.url.text, "http://h:9001/api");
  EXPECT_EQ(ep.load_balancing, LoadBalancing::round_robin);
  EXPECT_EQ(ep.hash_key.source, HashKey::Source::none);
  EXPECT_EQ(ep.retries, Retries{});
  EXPECT_EQ(ep.retries->attempts, 0u);
}

TEST(Servers, AListOfUrlsAndWeightedServers) {
  const LoadResult r = load(R"(
endpoints:
  - name: users
    url:
      - http://10.0.0.1:9001/api
      - {url: http://10.0.0.2:9001/api, weight: 3}
      - url: http://10.0.0.3:9001/api/
        weight: 1
)");
  ASSERT_TRUE(ok(r));
  const Endpoint& ep = first_endpoint(r);
  ASSERT_EQ(ep.servers.size(), 3u);
  EXPECT_EQ(ep.servers[0].url.text, "http://10.0.0.1:9001/api");
  EXPECT_EQ(ep.servers[1].url.host, "10.0.0.2");
  EXPECT_EQ(ep.servers[1].weight, 3u);
  EXPECT_EQ(ep.servers[2].url.base_path, "/api");
  EXPECT_EQ(ep.url, ep.servers[0].url);  // `url` is the first server
  EXPECT_EQ(ep.id, "users");
}

TEST(Servers, WithoutANameTheIdIsTheFirstServersUrl) {
  const LoadResult r = endpoint({"url: [http://a:1/x, http://b:2/x]", "prefix: /x"});
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(first_endpoint(r).id, "http://a:1/x");
}

TEST(Servers, AtLeastOne) {
  EXPECT_TRUE(only_error(endpoint({"name: a", "url: []"}), "endpoints[0].url", 3, 10,
                         "must list at least one server"));
}

TEST(Servers, EachUrlIsCheckedWhereItIs) {
  const LoadResult r = endpoint({"name: a", "url: [http://ok, \"ftp://x\", {url: \"http://u:p@h\"}]"});
  EXPECT_EQ(r.errors.size(), 2u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "endpoints[0].url[1]", 3, 22, "must be an http:// or https:// URL"));
  EXPECT_TRUE(has_error(r, "endpoints[0].url[2].url", 3, 39, "must not carry userinfo"));
}

TEST(Servers, MappingsNeedUrlAndKnowOnlyUrlAndWeight) {
  LoadResult r = endpoint({"name: a", "url: [http://ok, {weight: 2}]"});
  EXPECT_TRUE(only_error(r, "endpoints[0].url[1].url", 3, 22, "is required"));
  r = endpoint({"name: a", "url: [{url: http://ok, wieght: 2}]"});
  EXPECT_TRUE(only_error(r, "endpoints[0].url[0].wieght", 3, 28, "did you mean \"weight\"?"));
  r = endpoint({"name: a", "url: [[http://ok]]"});
  EXPECT_TRUE(only_error(r, "endpoints[0].url[0]", 3, 11,
                         "must be a URL or a mapping with url and weight"));
}

TEST(Servers, WeightIsAPositiveIntegerUpTo256) {
  for (const char* bad : {"0", "-1", "1.5", "\"2\"", "257", "heavy"}) {
    const std::string line = std::string("url: [{url: http://ok, weight: ") + bad + "}]";
    EXPECT_TRUE(only_error(endpoint({"name: a", line}), "endpoints[0].url[0].weight", 3, 36,
                           "must be an integer from 1 to 256"))
        << bad;
  }
  const LoadResult r = endpoint({"name: a", "url: [{url: http://ok, weight: 256}]"});
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(first_endpoint(r).servers[0].weight, 256u);
}

TEST(Servers, SameSchemeAndBasePath) {
  LoadResult r = endpoint({"name: a", "url: [http://a/api, https://b/api]"});
  EXPECT_TRUE(only_error(r, "endpoints[0].url[1]", 3, 25,
                         "must use the same scheme as the first server (http://)"));
  r = endpoint({"name: a", "url: [http://a/api, http://b/v2]"});
  EXPECT_TRUE(only_error(r, "endpoints[0].url[1]", 3, 25,
                         "must have the same base path as the first server (\"/api\")"));
  r = endpoint({"name: a", "url: [http://a, http://b/api]"});
  EXPECT_TRUE(only_error(r, "endpoints[0].url[1]", 3, 21,
                         "must have the same base path as the first server (\"\")"));
  // A trailing slash is the same base path.
  EXPECT_TRUE(ok(endpoint({"name: a", "url: [http://a/api, http://b/api/]"})));
}

TEST(Servers, NoDuplicates) {
  LoadResult r = endpoint({"name: a", "url: [http://a:80/x, http://b/x, http://A/x]"});
  EXPECT_TRUE(only_error(r, "endpoints[0].url[2]", 3, 38, "is listed twice (first at line 3, col 11)"));
  r = endpoint({"name: a", "url: [https://a/x, {url: \"https://a:443/x\", weight: 2}]"});
  EXPECT_TRUE(only_error(r, "endpoints[0].url[1].url", 3, 30, "is listed twice"));
  // Same host, other port: another server.
  EXPECT_TRUE(ok(endpoint({"name: a", "url: [http://a:1/x, http://a:2/x]"})));
}

TEST(Servers, TlsStillAppliesToHttpsOnly) {
  EXPECT_TRUE(only_error(endpoint({"name: a", "url: [http://a, http://b]", "tls: {verify: false}"}),
                         "endpoints[0].tls", 4, 5, "applies to https:// upstreams only"));
  EXPECT_TRUE(ok(endpoint({"name: a", "url: [https://a, https://b]", "tls: {verify: false}"})));
}

TEST(Servers, DisabledEndpointsAreValidatedToo) {
  EXPECT_TRUE(only_error(endpoint({"name: a", "disabled: true", "url: [http://a, http://a]"}),
                         "endpoints[0].url[1]", 4, 21, "is listed twice"));
}

TEST(LoadBalancing, EveryPolicy) {
  struct Case {
    const char* text;
    LoadBalancing policy;
  };
  for (const Case& c : {Case{"round_robin", LoadBalancing::round_robin},
                        Case{"least_request", LoadBalancing::least_request},
                        Case{"random", LoadBalancing::random}}) {
    const std::string line = std::string("load_balancing: ") + c.text;
    const LoadResult r = endpoint({"name: a", "url: [http://a, http://b]", line});
    ASSERT_TRUE(ok(r)) << c.text;
    EXPECT_EQ(first_endpoint(r).load_balancing, c.policy);
  }
  EXPECT_TRUE(only_error(endpoint({"name: a", "url: http://a", "load_balancing: fastest"}),
                         "endpoints[0].load_balancing", 4, 21,
                         "must be one of round_robin, least_request, random, hash"));
  EXPECT_TRUE(only_error(endpoint({"name: a", "url: http://a", "load_balancing: [hash]"}),
                         "endpoints[0].load_balancing", 4, 21, "must be a string"));
}

TEST(HashKey, EverySource) {
  struct Case {
    const char* text;
    HashKey::Source source;
    const char* name;
  };
  for (const Case& c : {Case{"client_ip", HashKey::Source::client_ip, ""},
                        Case{"header:X-User-Id", HashKey::Source::header, "X-User-Id"},
                        Case{"cookie:session", HashKey::Source::cookie, "session"},
                        Case{"query:user", HashKey::Source::query, "user"},
                        Case{"query:a.b[]", HashKey::Source::query, "a.b[]"}}) {
    const std::string line = std::string("hash_key: \"") + c.text + "\"";
    const LoadResult r = endpoint({"name: a", "url: http://a", "load_balancing: hash", line});
    ASSERT_TRUE(ok(r)) << c.text;
    EXPECT_EQ(first_endpoint(r).load_balancing, LoadBalancing::hash);
    EXPECT_EQ(first_endpoint(r).hash_key, (HashKey{c.source, c.name})) << c.text;
  }
}

TEST(HashKey, Malformed) {
  for (const char* bad : {"ip", "header:", "header:X User", "cookie:a;b", "cookie:", "query:",
                          "query:a&b", "query:a=b", "jwt_claim:sub", "Header:X", "client_ip:x"}) {
    const std::string line = std::string("hash_key: \"") + bad + "\"";
    EXPECT_TRUE(only_error(endpoint({"name: a", "url: http://a", "load_balancing: hash", line}),
                           "endpoints[0].hash_key", 5, 15,
                           "must be client_ip, header:NAME, cookie:NAME or query:NAME"))
        << bad;
  }
}

TEST(HashKey, HashNeedsAKey) {
  EXPECT_TRUE(only_error(endpoint({"name: a", "url: [http://a, http://b]", "load_balancing: hash"}),
                         "endpoints[0].load_balancing", 4, 21,
                         "\"hash\": needs a hash_key (client_ip, header:NAME"));
}

TEST(HashKey, OnlyWithHash) {
  EXPECT_TRUE(only_error(endpoint({"name: a", "url: http://a", "hash_key: client_ip"}),
                         "endpoints[0].hash_key", 4, 5, "applies to load_balancing: hash only"));
  EXPECT_TRUE(only_error(endpoint({"name: a", "url: http://a", "load_balancing: random",
                                   "hash_key: client_ip"}),
                         "endpoints[0].hash_key", 5, 5, "applies to load_balancing: hash only"));
  // A broken load_balancing is reported once, not again through hash_key.
  EXPECT_TRUE(only_error(endpoint({"name: a", "url: http://a", "load_balancing: hashed",
                                   "hash_key: client_ip"}),
                         "endpoints[0].load_balancing", 4, 21, "must be one of"));
}

TEST(Retries, EveryKey) {
  const LoadResult r = load(R"(
endpoints:
  - name: a
    url: http://a
    retries:
      attempts: 2
      on: [connect_failure, 503, timeout]
      methods: [get, HEAD, Get]
      per_try_timeout: 5s
      budget: 12.5%
)");
  ASSERT_TRUE(ok(r));
  const Retries& rt = *first_endpoint(r).retries;
  EXPECT_EQ(rt.attempts, 2u);
  EXPECT_TRUE(rt.on_connect_failure);
  EXPECT_FALSE(rt.on_reset);
  EXPECT_TRUE(rt.on_timeout);
  EXPECT_EQ(rt.on_statuses, (std::vector<int>{503}));
  EXPECT_EQ(rt.methods, (std::vector<std::string>{"GET", "HEAD"}));
  EXPECT_EQ(rt.per_try_timeout, std::optional<Duration>(5s));
  EXPECT_DOUBLE_EQ(rt.budget, 0.125);
}

TEST(Retries, Defaults) {
  const Retries rt;
  EXPECT_EQ(rt.attempts, 0u);
  EXPECT_TRUE(rt.on_connect_failure && rt.on_reset && rt.on_timeout);
  EXPECT_EQ(rt.on_statuses, (std::vector<int>{502, 503, 504}));
  EXPECT_EQ(rt.methods, (std::vector<std::string>{"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}));
  EXPECT_FALSE(rt.per_try_timeout);
  EXPECT_DOUBLE_EQ(rt.budget, 0.2);
}

TEST(Retries, EmptyListsAreAllowed) {
  const LoadResult r = endpoint({"name: a", "url: http://a", "retries: {attempts: 1, on: [], methods: []}"});
  ASSERT_TRUE(ok(r));
  const Retries& rt = *first_endpoint(r).retries;
  EXPECT_FALSE(rt.on_connect_failure || rt.on_reset || rt.on_timeout);
  EXPECT_TRUE(rt.on_statuses.empty());
  EXPECT_TRUE(rt.methods.empty());
}

TEST(Retries, BudgetIsAPercentage) {
  struct Case {
    const char* text;
    double share;
  };
  for (const Case& c : {Case{"0%", 0.0}, Case{"100%", 1.0}, Case{"20%", 0.2}, Case{"2.5%", 0.025},
                        Case{"007%", 0.07}}) {
    const std::string line = std::string("retries: {budget: \"") + c.text + "\"}";
    const LoadResult r = endpoint({"name: a", "url: http://a", line});
    ASSERT_TRUE(ok(r)) << c.text;
    EXPECT_DOUBLE_EQ(first_endpoint(r).retries->budget, c.share) << c.text;
  }
  for (const char* bad : {"20", "0.2", "120%", "100.5%", "-5%", "%", "abc%", "1.%", ".5%", "5 %"}) {
    const std::string line = std::string("retries: {budget: \"") + bad + "\"}";
    EXPECT_TRUE(only_error(endpoint({"name: a", "url: http://a", line}),
                           "endpoints[0].retries.budget", 4, 23,
                           "must be a percentage from 0% to 100% (e.g. \"20%\")"))
        << bad;
  }
}

TEST(Retries, EachRule) {
  struct Case {
    const char* retries;
    const char* path;
    int column;
    const char* fragment;
  };
  for (const Case& c : {
           Case{"{attempts: -1}", "endpoints[0].retries.attempts", 25, "must be a non-negative integer"},
           Case{"{attempts: two}", "endpoints[0].retries.attempts", 25, "must be a non-negative integer"},
           Case{"{on: [reset, 500]}", "endpoints[0].retries.on[1]", 27,
                "must be one of connect_failure, reset, timeout, 502, 503, 504"},
           Case{"{on: [connect-failure]}", "endpoints[0].retries.on[0]", 20, "must be one of"},
           Case{"{on: reset}", "endpoints[0].retries.on", 19, "must be a sequence"},
           Case{"{methods: [GET, \"GE T\"]}", "endpoints[0].retries.methods[1]", 30,
                "is not a valid HTTP method token"},
           Case{"{per_try_timeout: 0s}", "endpoints[0].retries.per_try_timeout", 32,
                "must be greater than 0"},
           Case{"{per_try_timeout: 5}", "endpoints[0].retries.per_try_timeout", 32,
                "must be a duration with a unit"},
           Case{"{attempt: 2}", "endpoints[0].retries.attempt", 15, "did you mean \"attempts\"?"},
           Case{"[attempts]", "endpoints[0].retries", 14, "must be a mapping"},
       }) {
    const std::string line = std::string("retries: ") + c.retries;
    EXPECT_TRUE(only_error(endpoint({"name: a", "url: http://a", line}), c.path, 4, c.column,
                           c.fragment))
        << c.retries;
  }
}

TEST(Retries, DefaultsApplyAndEndpointsOverrideFieldByField) {
  const LoadResult r = load(R"(
defaults:
  retries:
    attempts: 3
    budget: 50%
    on: [connect_failure]
endpoints:
  - name: a
    url: http://a
  - name: b
    url: http://b
    retries: {attempts: 1, methods: [GET]}
)");
  ASSERT_TRUE(ok(r));
  const Retries& a = *r.config->endpoints[0].retries;
  const Retries& b = *r.config->endpoints[1].retries;
  EXPECT_EQ(a.attempts, 3u);
  EXPECT_DOUBLE_EQ(a.budget, 0.5);
  EXPECT_FALSE(a.on_reset);
  EXPECT_EQ(b.attempts, 1u);                                   // overridden
  EXPECT_DOUBLE_EQ(b.budget, 0.5);                             // from defaults
  EXPECT_TRUE(b.on_connect_failure);                           // from defaults
  EXPECT_TRUE(b.on_statuses.empty());                          // from defaults
  EXPECT_EQ(b.methods, (std::vector<std::string>{"GET"}));     // overridden
}

TEST(Retries, DefaultsAreValidated) {
  EXPECT_TRUE(only_error(load("defaults:\n  retries: {budget: 200%}\nendpoints: []\n"),
                         "defaults.retries.budget", 2, 21, "must be a percentage"));
  EXPECT_TRUE(only_error(load("defaults:\n  load_balancing: random\n"), "defaults.load_balancing",
                         2, 3, "unknown key"));
}

}  // namespace
}  // namespace gatehouse::config
