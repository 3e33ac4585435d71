#include "router/route_table.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::router {
namespace {

using Kind = RouteMatch::Kind;

// Endpoints are built by hand: the router must not depend on the YAML loader.
config::Endpoint endpoint(std::string prefix, std::string name = "",
                          std::string version = "",
                          std::vector<std::string> methods = {},
                          bool disabled = false) {
  config::Endpoint ep;
  ep.prefix = std::move(prefix);
  ep.name = std::move(name);
  ep.version = std::move(version);
  ep.methods = std::move(methods);
  ep.disabled = disabled;
  ep.id = ep.name.empty() ? ep.prefix
                          : (ep.version.empty() ? ep.name : ep.name + "@" + ep.version);
  return ep;
}

struct Routed {
  Kind kind;
  std::size_t endpoint;
  std::string prefix;
  std::string allow;
};

// Copies the views so a failing expectation prints readable values.
Routed route(const RouteTable& t, std::string_view path,
             std::string_view method = "GET", std::string_view version = "") {
  const RouteMatch m = t.match(method, path, version);
  return {m.kind, m.endpoint, std::string(m.matched_prefix), std::string(m.allow)};
}

void expect_found(const RouteTable& t, std::string_view path, std::size_t endpoint,
                  std::string_view prefix, std::string_view method = "GET",
                  std::string_view version = "") {
  const Routed r = route(t, path, method, version);
  EXPECT_EQ(r.kind, Kind::found) << method << " " << path;
  EXPECT_EQ(r.endpoint, endpoint) << method << " " << path;
  EXPECT_EQ(r.prefix, prefix) << method << " " << path;
}

void expect_no_route(const RouteTable& t, std::string_view path,
                     std::string_view method = "GET", std::string_view version = "") {
  EXPECT_EQ(route(t, path, method, version).kind, Kind::no_route)
      << method << " " << path;
}

TEST(RouteTable, EmptyTableRoutesNothing) {
  const RouteTable t({});
  EXPECT_EQ(t.size(), 0u);
  expect_no_route(t, "/");
  expect_no_route(t, "/users");
}

TEST(RouteTable, WholeSegmentPrefixMatch) {
  const RouteTable t({endpoint("/users")});
  expect_found(t, "/users", 0, "/users");
  expect_found(t, "/users/", 0, "/users");
  expect_found(t, "/users/42", 0, "/users");
  expect_found(t, "/users/42/orders/7", 0, "/users");
  expect_found(t, "/users//x", 0, "/users");
  expect_no_route(t, "/usersx");
  expect_no_route(t, "/users.json");
  expect_no_route(t, "/user");
  expect_no_route(t, "/Users");
  expect_no_route(t, "/");
  expect_no_route(t, "//users");
  expect_no_route(t, "/x/users");
  expect_no_route(t, "");
  expect_no_route(t, "users");
}

TEST(RouteTable, LongestPrefixWins) {
  const RouteTable t(
      {endpoint("/api"), endpoint("/api/users/admin"), endpoint("/api/users")});
  expect_found(t, "/api", 0, "/api");
  expect_found(t, "/api/orders", 0, "/api");
  expect_found(t, "/api/users", 2, "/api/users");
  expect_found(t, "/api/users/42", 2, "/api/users");
  expect_found(t, "/api/users/admin", 1, "/api/users/admin");
  expect_found(t, "/api/users/admin/x", 1, "/api/users/admin");
  expect_found(t, "/api/users/adminx", 2, "/api/users");
  expect_found(t, "/api/usersx", 0, "/api");
  EXPECT_EQ(t.size(), 3u);
}

TEST(RouteTable, MultiSegmentPrefixWithoutIntermediateEntries) {
  const RouteTable t({endpoint("/a/b/c")});
  expect_found(t, "/a/b/c/d", 0, "/a/b/c");
  expect_no_route(t, "/a/b");
  expect_no_route(t, "/a/b/");
  expect_no_route(t, "/a");
}

TEST(RouteTable, RootIsCatchAll) {
  const RouteTable t({endpoint("/"), endpoint("/users")});
  expect_found(t, "/", 0, "/");
  expect_found(t, "/anything/at/all", 0, "/");
  expect_found(t, "/usersx", 0, "/");
  expect_found(t, "//", 0, "/");
  expect_found(t, "/users/1", 1, "/users");
  expect_no_route(t, "");
}

TEST(RouteTable, TrailingSlashOnPrefixIsIgnored) {
  const RouteTable t({endpoint("/orders/")});
  expect_found(t, "/orders", 0, "/orders");
  expect_found(t, "/orders/", 0, "/orders");
  expect_found(t, "/orders/9", 0, "/orders");
  expect_no_route(t, "/ordersx");
}

TEST(RouteTable, PrefixIsNormalisedLikeAPath) {
  const RouteTable t({endpoint("/%7Euser/./a"), endpoint("/x%2fy")});
  expect_found(t, "/~user/a/1", 0, "/~user/a");
  expect_found(t, "/x%2Fy/1", 1, "/x%2Fy");
}

TEST(RouteTable, DisabledEndpointsAreNotRegistered) {
  const RouteTable t({endpoint("/users", "users", "", {}, true), endpoint("/orders"),
                      endpoint("/api/internal", "", "", {}, true), endpoint("/api")});
  EXPECT_EQ(t.size(), 2u);
  expect_no_route(t, "/users");
  expect_no_route(t, "/users/42");
  expect_found(t, "/orders", 1, "/orders");
  // A disabled longer prefix does not shadow the enabled shorter one.
  expect_found(t, "/api/internal/x", 3, "/api");
}

TEST(RouteTable, MethodNotAllowedWithAllowHeader) {
  const RouteTable t({endpoint("/users", "", "", {"GET", "POST"})});
  expect_found(t, "/users", 0, "/users", "GET");
  expect_found(t, "/users", 0, "/users", "POST");
  const Routed r = route(t, "/users/1", "DELETE");
  EXPECT_EQ(r.kind, Kind::method_not_allowed);
  EXPECT_EQ(r.endpoint, 0u);
  EXPECT_EQ(r.prefix, "/users");
  EXPECT_EQ(r.allow, "GET, HEAD, POST");
  // Methods are case-sensitive tokens.
  EXPECT_EQ(route(t, "/users", "get").kind, Kind::method_not_allowed);
}

TEST(RouteTable, AllowHeaderKeepsConfiguredOrder) {
  const RouteTable t({endpoint("/a", "", "", {"POST", "PUT"}),
                      endpoint("/b", "", "", {"PUT", "GET", "DELETE"}),
                      endpoint("/c", "", "", {"HEAD", "GET"}),
                      endpoint("/d", "", "", {"GET", "GET", "POST"})});
  EXPECT_EQ(route(t, "/a", "GET").allow, "POST, PUT");
  EXPECT_EQ(route(t, "/b", "POST").allow, "PUT, GET, HEAD, DELETE");
  EXPECT_EQ(route(t, "/c", "POST").allow, "HEAD, GET");
  EXPECT_EQ(route(t, "/d", "PUT").allow, "GET, HEAD, POST");
}

TEST(RouteTable, HeadIsAllowedWhereverGetIs) {
  const RouteTable t({endpoint("/r", "", "", {"GET"}), endpoint("/w", "", "", {"POST"}),
                      endpoint("/h", "", "", {"HEAD"})});
  expect_found(t, "/r", 0, "/r", "HEAD");
  const Routed w = route(t, "/w", "HEAD");
  EXPECT_EQ(w.kind, Kind::method_not_allowed);
  EXPECT_EQ(w.allow, "POST");
  expect_found(t, "/h", 2, "/h", "HEAD");
  EXPECT_EQ(route(t, "/h", "GET").kind, Kind::method_not_allowed);
}

TEST(RouteTable, EmptyMethodsAllowsEverything) {
  const RouteTable t({endpoint("/any")});
  for (const char* m :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE"}) {
    expect_found(t, "/any/x", 0, "/any", m);
  }
}

TEST(RouteTable, NoFallThroughToShorterPrefixOnWrongMethod) {
  const RouteTable t(
      {endpoint("/"), endpoint("/api"), endpoint("/api/admin", "", "", {"POST"})});
  const Routed r = route(t, "/api/admin/users", "GET");
  EXPECT_EQ(r.kind, Kind::method_not_allowed);
  EXPECT_EQ(r.endpoint, 2u);
  EXPECT_EQ(r.prefix, "/api/admin");
  EXPECT_EQ(r.allow, "POST");
  expect_found(t, "/api/adminx", 1, "/api");
}

TEST(RouteTable, MatchedEndpointIsIndexIntoInputVector) {
  // Disabled endpoints before an enabled one must not shift the reported index.
  const RouteTable t({endpoint("/a", "", "", {}, true),
                      endpoint("/b", "", "", {}, true), endpoint("/c")});
  expect_found(t, "/c", 2, "/c");
}

TEST(RouteTable, ViewsOutliveTheInputVector) {
  auto* eps =
      new std::vector<config::Endpoint>{endpoint("/users", "", "", {"GET", "PUT"})};
  const RouteTable t(*eps);
  delete eps;
  const RouteMatch m = t.match("POST", "/users/1", "");
  EXPECT_EQ(m.kind, Kind::method_not_allowed);
  EXPECT_EQ(m.matched_prefix, "/users");
  EXPECT_EQ(m.allow, "GET, HEAD, PUT");
}

TEST(RouteTable, FirstOfTwoEqualPrefixesWins) {
  // The loader rejects this; the table must still be deterministic.
  const RouteTable t({endpoint("/dup"), endpoint("/dup/")});
  EXPECT_EQ(t.size(), 1u);
  expect_found(t, "/dup/x", 0, "/dup");
}

TEST(RouteTable, ManyEndpointsBuildAndMatch) {
  constexpr std::size_t kCount = 100'000;
  std::vector<config::Endpoint> eps;
  eps.reserve(kCount + 2);
  for (std::size_t i = 0; i < kCount; ++i) {
    // Nested prefixes so longest-prefix matching is exercised at scale:
    // /svc{i/100}/e{i} and every 100th one also disabled.
    eps.push_back(endpoint(
        "/svc" + std::to_string(i / 100) + "/e" + std::to_string(i), "", "",
        i % 7 == 0 ? std::vector<std::string>{"POST"} : std::vector<std::string>{},
        i % 100 == 99));
  }
  eps.push_back(endpoint("/svc5"));  // index kCount
  eps.push_back(endpoint("/"));      // index kCount + 1
  const RouteTable t(eps);
  EXPECT_EQ(t.size(), kCount - kCount / 100 + 2);

  for (std::size_t i = 0; i < kCount; i += 37) {
    const std::string prefix =
        "/svc" + std::to_string(i / 100) + "/e" + std::to_string(i);
    const Routed r = route(t, prefix + "/item/1", "GET");
    if (i % 100 == 99) {
      // Disabled: falls to /svc5 or the catch-all.
      EXPECT_EQ(r.kind, Kind::found) << prefix;
      EXPECT_EQ(r.endpoint, i / 100 == 5 ? kCount : kCount + 1) << prefix;
    } else if (i % 7 == 0) {
      EXPECT_EQ(r.kind, Kind::method_not_allowed) << prefix;
      EXPECT_EQ(r.endpoint, i) << prefix;
      EXPECT_EQ(r.allow, "POST") << prefix;
    } else {
      EXPECT_EQ(r.kind, Kind::found) << prefix;
      EXPECT_EQ(r.endpoint, i) << prefix;
      EXPECT_EQ(r.prefix, prefix) << prefix;
    }
  }
  expect_found(t, "/svc5/e501", 501, "/svc5/e501");
  expect_found(t, "/svc5/e499", kCount, "/svc5");  // e499 lives under /svc4
  expect_found(t, "/svc4/e501", kCount + 1, "/");
  expect_found(t, "/svc999/e99998", 99'998, "/svc999/e99998");
  expect_found(t, "/svc999/e99999", kCount + 1, "/");  // disabled
  expect_found(t, "/svc1000/e100000", kCount + 1, "/");
}

}  // namespace
}  // namespace gatehouse::router
