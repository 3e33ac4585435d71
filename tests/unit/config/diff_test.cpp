// config::diff and config::same_endpoint (SPEC section 7, reload report): which endpoints
// a reload reports as added, removed, updated, unchanged and disabled, which keys need a
// restart, and that "changed" compares effective values after defaults are merged.
#include "config/diff.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "test_util.hpp"

namespace gatehouse::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using testing::load;
using testing::ok;

Config must_load(std::string_view yaml) {
  LoadResult r = load(yaml);
  EXPECT_TRUE(ok(r));
  if (!r.config) throw std::runtime_error("invalid test config");
  return std::move(*r.config);
}

const Endpoint& by_id(const Config& c, std::string_view id) {
  for (const auto& e : c.endpoints)
    if (e.id == id) return e;
  throw std::runtime_error("no endpoint " + std::string(id));
}

constexpr const char* kBase = R"(
listen: 127.0.0.1:8080
threads: 2
endpoints:
  - url: http://127.0.0.1:9001/api
    name: users
    version: v1
  - url: http://127.0.0.1:9002
    name: orders
    timeout: 5s
  - url: http://127.0.0.1:9003
    name: billing
)";

TEST(ConfigDiff, IdenticalConfigsAreAllUnchanged) {
  const Config a = must_load(kBase);
  const Config b = must_load(kBase);
  const ConfigDiff d = diff(a, b);
  EXPECT_THAT(d.unchanged, UnorderedElementsAre("users@v1", "orders", "billing"));
  EXPECT_THAT(d.added, IsEmpty());
  EXPECT_THAT(d.removed, IsEmpty());
  EXPECT_THAT(d.updated, IsEmpty());
  EXPECT_THAT(d.disabled, IsEmpty());
  EXPECT_THAT(d.restart_required, IsEmpty());
  EXPECT_FALSE(d.globals_changed);
  EXPECT_FALSE(d.disabled_changed);
  EXPECT_TRUE(d.effective_unchanged());
}

TEST(ConfigDiff, CommentsOrderAndFormattingDoNotCount) {
  const Config a = must_load(kBase);
  // Same content: a comment, the endpoints in another order, flow style, keys reordered.
  const Config b = must_load(R"(
# a comment that moves every line down
threads: 2
listen: "127.0.0.1:8080"
endpoints:
  - { name: billing, url: "http://127.0.0.1:9003" }
  - name: orders        # trailing comment
    timeout: 5000ms
    url: http://127.0.0.1:9002
  - version: v1
    name: users
    url: http://127.0.0.1:9001/api
)");
  ASSERT_NE(a.sha256, b.sha256);
  EXPECT_NE(by_id(a, "billing").line, by_id(b, "billing").line);
  EXPECT_NE(by_id(a, "billing").index, by_id(b, "billing").index);
  EXPECT_TRUE(same_endpoint(by_id(a, "billing"), by_id(b, "billing")));
  EXPECT_TRUE(same_endpoint(by_id(a, "orders"), by_id(b, "orders")));  // 5s == 5000ms
  const ConfigDiff d = diff(a, b);
  EXPECT_THAT(d.unchanged, UnorderedElementsAre("users@v1", "orders", "billing"));
  EXPECT_TRUE(d.effective_unchanged());
  EXPECT_THAT(d.restart_required, IsEmpty());
}

TEST(ConfigDiff, ExplicitValueEqualToTheDefaultIsNotAChange) {
  const Config a = must_load(R"(
endpoints:
  - url: http://127.0.0.1:9001
    name: svc
)");
  const Config b = must_load(R"(
endpoints:
  - url: http://127.0.0.1:9001
    name: svc
    strip_prefix: true
    preserve_host: false
    timeout: 30s
    connect_timeout: 2s
    disabled: false
    circuit_breaker: { failure_threshold: 5, reset_timeout: 30s }
    health_check: { path: /health, interval: 10s }
)");
  const ConfigDiff d = diff(a, b);
  EXPECT_THAT(d.unchanged, ElementsAre("svc"));
  EXPECT_THAT(d.updated, IsEmpty());
  EXPECT_TRUE(d.effective_unchanged());
}

// Writing the default prefix out (`prefix: /svc` for name svc) routes exactly as before;
// prefix_explicit only changes the wording of error messages, so it is no change.
TEST(ConfigDiff, ExplicitDefaultPrefixIsNotAChange) {
  const Config a = must_load(R"(
endpoints:
  - { url: "http://127.0.0.1:9001", name: svc }
  - { url: "http://127.0.0.1:9002", name: users, version: v1 }
)");
  const Config b = must_load(R"(
endpoints:
  - { url: "http://127.0.0.1:9001", name: svc, prefix: /svc }
  - { url: "http://127.0.0.1:9002", name: users, version: v1, prefix: /users/v1 }
)");
  EXPECT_EQ(by_id(a, "svc").prefix, by_id(b, "svc").prefix);
  const ConfigDiff d = diff(a, b);
  EXPECT_THAT(d.unchanged, UnorderedElementsAre("svc", "users@v1"));
  EXPECT_THAT(d.updated, IsEmpty());
}

TEST(ConfigDiff, AddedAndRemoved) {
  const Config a = must_load(kBase);
  const Config b = must_load(R"(
listen: 127.0.0.1:8080
threads: 2
endpoints:
  - url: http://127.0.0.1:9001/api
    name: users
    version: v1
  - url: http://127.0.0.1:9002
    name: orders
    timeout: 5s
  - url: http://127.0.0.1:9004
    name: invoices
  - url: http://127.0.0.1:9005
    prefix: /anon
)");
  const ConfigDiff d = diff(a, b);
  EXPECT_THAT(d.added, UnorderedElementsAre("invoices", "http://127.0.0.1:9005"));
  EXPECT_THAT(d.removed, ElementsAre("billing"));
  EXPECT_THAT(d.unchanged, UnorderedElementsAre("users@v1", "orders"));
  EXPECT_THAT(d.updated, IsEmpty());
  EXPECT_THAT(d.disabled, IsEmpty());
  EXPECT_FALSE(d.effective_unchanged());

  const ConfigDiff back = diff(b, a);
  EXPECT_THAT(back.added, ElementsAre("billing"));
  EXPECT_THAT(back.removed, UnorderedElementsAre("invoices", "http://127.0.0.1:9005"));
}

TEST(ConfigDiff, ANewIdIsARemovalPlusAnAddition) {
  // Adding a version changes the id (users -> users@v2): not an update of "users".
  const Config a = must_load(R"(
endpoints:
  - { url: "http://127.0.0.1:9001", name: users }
)");
  const Config b = must_load(R"(
endpoints:
  - { url: "http://127.0.0.1:9001", name: users, version: v2 }
)");
  const ConfigDiff d = diff(a, b);
  EXPECT_THAT(d.removed, ElementsAre("users"));
  EXPECT_THAT(d.added, ElementsAre("users@v2"));
  EXPECT_THAT(d.updated, IsEmpty());
  EXPECT_THAT(d.unchanged, IsEmpty());
}

// One key of "svc" changed per case; every case must report svc (and only svc) updated.
TEST(ConfigDiff, EachEndpointSettingCountsAsAnUpdate) {
  const std::string head = "endpoints:\n  - url: http://127.0.0.1:9009\n    name: other\n";
  const std::string base = head + "  - url: http://127.0.0.1:9001/api\n    name: svc\n";
  struct Case {
    const char* what;
    std::string yaml;
  };
  const std::string svc = head + "  - name: svc\n";
  const std::vector<Case> cases = {
      {"url host", svc + "    url: http://127.0.0.2:9001/api\n"},
      {"url port", svc + "    url: http://127.0.0.1:9002/api\n"},
      {"url base path", svc + "    url: http://127.0.0.1:9001/v2\n"},
      {"url scheme", svc + "    url: https://127.0.0.1:9001/api\n"},
      {"methods", svc + "    url: http://127.0.0.1:9001/api\n    methods: [GET]\n"},
      {"auth_type", svc + "    url: http://127.0.0.1:9001/api\n    auth_type: bearer\n"},
      {"prefix", svc + "    url: http://127.0.0.1:9001/api\n    prefix: /s\n"},
      {"strip_prefix", svc + "    url: http://127.0.0.1:9001/api\n    strip_prefix: false\n"},
      {"preserve_host", svc + "    url: http://127.0.0.1:9001/api\n    preserve_host: true\n"},
      {"websocket", svc + "    url: http://127.0.0.1:9001/api\n    websocket: false\n"},
      {"timeout", svc + "    url: http://127.0.0.1:9001/api\n    timeout: 5s\n"},
      {"connect_timeout", svc + "    url: http://127.0.0.1:9001/api\n    connect_timeout: 1s\n"},
      {"max_body", svc + "    url: http://127.0.0.1:9001/api\n    max_body: 1KiB\n"},
      {"health_check off", svc + "    url: http://127.0.0.1:9001/api\n    health_check: false\n"},
      {"health_check path",
       svc + "    url: http://127.0.0.1:9001/api\n    health_check: { path: /ping }\n"},
      {"health_check interval",
       svc + "    url: http://127.0.0.1:9001/api\n    health_check: { interval: 3s }\n"},
      {"circuit_breaker threshold",
       svc + "    url: http://127.0.0.1:9001/api\n    circuit_breaker: { failure_threshold: 2 }\n"},
      {"circuit_breaker statuses",
       svc + "    url: http://127.0.0.1:9001/api\n    circuit_breaker: { failure_statuses: [500] }\n"},
      {"fallback",
       svc + "    url: http://127.0.0.1:9001/api\n    circuit_breaker: { fallback_strategy: default }\n"
             "    fallback: { status: 200, body: '[]' }\n"},
      {"cache", svc + "    url: http://127.0.0.1:9001/api\n    cache: { ttl: 5s }\n"},
  };
  const Config a = must_load(base);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    LoadResult r = load(c.yaml);
    ASSERT_TRUE(ok(r)) << c.yaml;
    const ConfigDiff d = diff(a, *r.config);
    EXPECT_THAT(d.updated, ElementsAre("svc"));
    EXPECT_THAT(d.unchanged, ElementsAre("other"));
    EXPECT_THAT(d.added, IsEmpty());
    EXPECT_THAT(d.removed, IsEmpty());
    EXPECT_THAT(d.disabled, IsEmpty());
    EXPECT_FALSE(d.effective_unchanged());
    EXPECT_FALSE(same_endpoint(by_id(a, "svc"), by_id(*r.config, "svc")));
  }
}

TEST(ConfigDiff, ChangedDefaultsUpdateOnlyTheEndpointsThatInheritThem) {
  const Config a = must_load(R"(
defaults:
  timeout: 30s
  circuit_breaker: { failure_threshold: 5 }
endpoints:
  - { url: "http://127.0.0.1:9001", name: inherits }
  - { url: "http://127.0.0.1:9002", name: own_timeout, timeout: 7s,
      circuit_breaker: { failure_threshold: 3 } }
)");
  const Config b = must_load(R"(
defaults:
  timeout: 10s
  circuit_breaker: { failure_threshold: 9 }
endpoints:
  - { url: "http://127.0.0.1:9001", name: inherits }
  - { url: "http://127.0.0.1:9002", name: own_timeout, timeout: 7s,
      circuit_breaker: { failure_threshold: 3 } }
)");
  const ConfigDiff d = diff(a, b);
  EXPECT_THAT(d.updated, ElementsAre("inherits"));
  EXPECT_THAT(d.unchanged, ElementsAre("own_timeout"));
}

TEST(ConfigDiff, LimitsMaxBodyFlowsIntoEndpoints) {
  const Config a = must_load(R"(
endpoints:
  - { url: "http://127.0.0.1:9001", name: inherits }
  - { url: "http://127.0.0.1:9002", name: own, max_body: 1KiB }
)");
  const Config b = must_load(R"(
limits: { max_body: 1MiB }
endpoints:
  - { url: "http://127.0.0.1:9001", name: inherits }
  - { url: "http://127.0.0.1:9002", name: own, max_body: 1KiB }
)");
  const ConfigDiff d = diff(a, b);
  EXPECT_THAT(d.updated, ElementsAre("inherits"));
  EXPECT_THAT(d.unchanged, ElementsAre("own"));
  EXPECT_TRUE(d.globals_changed);
}

TEST(ConfigDiff, SwitchedToDisabledAppearsOnlyInDisabled) {
  const Config a = must_load(kBase);
  const Config b = must_load(R"(
listen: 127.0.0.1:8080
threads: 2
endpoints:
  - url: http://127.0.0.1:9001/api
    name: users
    version: v1
  - url: http://127.0.0.1:9002
    name: orders
    timeout: 5s
    disabled: true
  - url: http://127.0.0.1:9003
    name: billing
)");
  const ConfigDiff d = diff(a, b);
  EXPECT_THAT(d.disabled, ElementsAre("orders"));
  EXPECT_THAT(d.removed, IsEmpty());
  EXPECT_THAT(d.updated, IsEmpty());
  EXPECT_THAT(d.added, IsEmpty());
  EXPECT_THAT(d.unchanged, UnorderedElementsAre("users@v1", "billing"));
  EXPECT_TRUE(d.disabled_changed);
  EXPECT_FALSE(d.effective_unchanged());

  // And back: a disabled endpoint that is enabled again is added.
  const ConfigDiff back = diff(b, a);
  EXPECT_THAT(back.added, ElementsAre("orders"));
  EXPECT_THAT(back.disabled, IsEmpty());
  EXPECT_THAT(back.removed, IsEmpty());
  EXPECT_FALSE(back.effective_unchanged());
}

TEST(ConfigDiff, DisabledEndpoints) {
  const Config a = must_load(R"(
endpoints:
  - { url: "http://127.0.0.1:9001", name: live }
  - { url: "http://127.0.0.1:9002", name: off, disabled: true }
)");
  {  // still disabled, same settings: listed, but nothing to apply
    const ConfigDiff d = diff(a, a);
    EXPECT_THAT(d.disabled, ElementsAre("off"));
    EXPECT_THAT(d.unchanged, ElementsAre("live"));
    EXPECT_FALSE(d.disabled_changed);
    EXPECT_TRUE(d.effective_unchanged());
  }
  {  // still disabled, settings changed: still only "disabled", but something changed
    const Config b = must_load(R"(
endpoints:
  - { url: "http://127.0.0.1:9001", name: live }
  - { url: "http://127.0.0.1:9002", name: off, disabled: true, timeout: 3s }
)");
    const ConfigDiff d = diff(a, b);
    EXPECT_THAT(d.disabled, ElementsAre("off"));
    EXPECT_THAT(d.updated, IsEmpty());
    EXPECT_TRUE(d.disabled_changed);
    EXPECT_FALSE(d.effective_unchanged());
  }
  {  // a disabled endpoint deleted from the file is "removed" like any other (SPEC 7)
    const Config b = must_load(R"(
endpoints:
  - { url: "http://127.0.0.1:9001", name: live }
)");
    const ConfigDiff d = diff(a, b);
    EXPECT_THAT(d.removed, ElementsAre("off"));
    EXPECT_THAT(d.disabled, IsEmpty());
    EXPECT_THAT(d.unchanged, ElementsAre("live"));
    EXPECT_TRUE(d.disabled_changed);
  }
  {  // a new endpoint that arrives disabled
    const Config b = must_load(R"(
endpoints:
  - { url: "http://127.0.0.1:9001", name: live }
  - { url: "http://127.0.0.1:9002", name: off, disabled: true }
  - { url: "http://127.0.0.1:9003", name: later, disabled: true }
)");
    const ConfigDiff d = diff(a, b);
    EXPECT_THAT(d.disabled, ElementsAre("off", "later"));
    EXPECT_THAT(d.added, IsEmpty());
    EXPECT_TRUE(d.disabled_changed);
  }
}

TEST(ConfigDiff, ListenAndThreadsNeedARestart) {
  const Config a = must_load(kBase);
  {
    const Config b = must_load(R"(
listen: 127.0.0.1:8081
threads: 2
endpoints:
  - { url: "http://127.0.0.1:9001/api", name: users, version: v1 }
  - { url: "http://127.0.0.1:9002", name: orders, timeout: 5s }
  - { url: "http://127.0.0.1:9003", name: billing }
)");
    const ConfigDiff d = diff(a, b);
    EXPECT_THAT(d.restart_required, ElementsAre("listen"));
    EXPECT_THAT(d.unchanged, UnorderedElementsAre("users@v1", "orders", "billing"));
    // Nothing a reload can apply: the report is "unchanged" plus restart_required.
    EXPECT_TRUE(d.effective_unchanged());
  }
  {
    const Config b = must_load(R"(
listen: 127.0.0.1:8081
threads: 4
endpoints:
  - { url: "http://127.0.0.1:9001/api", name: users, version: v1 }
  - { url: "http://127.0.0.1:9002", name: orders, timeout: 5s }
)");
    const ConfigDiff d = diff(a, b);
    EXPECT_THAT(d.restart_required, ElementsAre("listen", "threads"));
    EXPECT_THAT(d.removed, ElementsAre("billing"));
    EXPECT_FALSE(d.effective_unchanged());
  }
}

TEST(ConfigDiff, GlobalSettingsAreChangesButNotEndpointUpdates) {
  const std::string eps = "endpoints:\n  - { url: \"http://127.0.0.1:9001\", name: svc }\n";
  const Config a = must_load(eps);
  for (const char* global : {"log: { level: debug }\n", "log: { format: json }\n",
                             "log: { access_log: false }\n", "limits: { idle_timeout: 5s }\n",
                             "shutdown_grace: 1s\n", "watch: true\n",
                             "auth: { scopes: { stats: other } }\n"}) {
    SCOPED_TRACE(global);
    const Config b = must_load(std::string(global) + eps);
    const ConfigDiff d = diff(a, b);
    EXPECT_TRUE(d.globals_changed);
    EXPECT_FALSE(d.effective_unchanged());
    EXPECT_THAT(d.unchanged, ElementsAre("svc"));
    EXPECT_THAT(d.updated, IsEmpty());
    EXPECT_THAT(d.restart_required, IsEmpty());
  }
}

TEST(ConfigDiff, EmptyEndpointLists) {
  const Config none = must_load("endpoints: []\n");
  const Config one = must_load("endpoints:\n  - { url: \"http://127.0.0.1:9001\", name: svc }\n");
  EXPECT_TRUE(diff(none, none).effective_unchanged());
  EXPECT_THAT(diff(none, one).added, ElementsAre("svc"));
  EXPECT_THAT(diff(one, none).removed, ElementsAre("svc"));
}

// SPEC section 13: the servers, their weights, the policy, the hash key and the retry
// settings are part of an endpoint; writing a default out is no change.
TEST(ConfigDiff, ServersBalancingAndRetriesAreChanges) {
  const std::string head = "endpoints:\n  - name: svc\n";
  const Config base = must_load(head + "    url: [http://a:1, http://b:2]\n");
  for (const char* same : {"    url: [http://a:1, {url: http://b:2, weight: 1}]\n",
                           "    url: [http://a:1, http://b:2]\n    load_balancing: round_robin\n",
                           "    url: [http://a:1, http://b:2]\n    retries: {attempts: 0}\n",
                           "    url: [http://a:1, http://b:2]\n    retries: {budget: 20%}\n"}) {
    SCOPED_TRACE(same);
    EXPECT_THAT(diff(base, must_load(head + same)).unchanged, ElementsAre("svc"));
  }
  for (const char* changed : {
           "    url: [http://a:1]\n",                                  // a server removed
           "    url: [http://a:1, http://b:2, http://c:3]\n",          // one added
           "    url: [http://b:2, http://a:1]\n",                      // order (first server)
           "    url: [http://a:1, {url: http://b:2, weight: 2}]\n",     // a weight
           "    url: [http://a:1, http://b:2]\n    load_balancing: least_request\n",
           "    url: [http://a:1, http://b:2]\n    load_balancing: hash\n    hash_key: client_ip\n",
           "    url: [http://a:1, http://b:2]\n    retries: {attempts: 2}\n",
           "    url: [http://a:1, http://b:2]\n    retries: {on: [reset]}\n",
           "    url: [http://a:1, http://b:2]\n    retries: {methods: [GET]}\n",
           "    url: [http://a:1, http://b:2]\n    retries: {per_try_timeout: 1s}\n",
           "    url: [http://a:1, http://b:2]\n    retries: {budget: 30%}\n"}) {
    SCOPED_TRACE(changed);
    const ConfigDiff d = diff(base, must_load(head + changed));
    EXPECT_THAT(d.updated, ElementsAre("svc"));
    EXPECT_THAT(d.unchanged, IsEmpty());
  }
  const Config hashed = must_load(head + "    url: [http://a:1, http://b:2]\n    load_balancing: hash\n"
                                         "    hash_key: client_ip\n");
  const Config by_header = must_load(head + "    url: [http://a:1, http://b:2]\n"
                                            "    load_balancing: hash\n    hash_key: header:X-U\n");
  EXPECT_THAT(diff(hashed, by_header).updated, ElementsAre("svc"));
  // defaults.retries counts as the endpoint's own.
  const Config with_defaults =
      must_load("defaults: {retries: {attempts: 1}}\n" + head + "    url: [http://a:1, http://b:2]\n");
  EXPECT_THAT(diff(base, with_defaults).updated, ElementsAre("svc"));
}

}  // namespace
}  // namespace gatehouse::config
