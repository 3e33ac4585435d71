#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "router/route_table.hpp"

namespace gatehouse::router {
namespace {

using Kind = RouteMatch::Kind;

// Default prefix per SPEC 3: /{name}/{version}, or /{name} without a version.
config::Endpoint versioned(std::string name, std::string version,
                           std::vector<std::string> methods = {},
                           bool disabled = false) {
  config::Endpoint ep;
  ep.name = std::move(name);
  ep.version = std::move(version);
  ep.prefix = ep.version.empty() ? "/" + ep.name : "/" + ep.name + "/" + ep.version;
  ep.id = ep.version.empty() ? ep.name : ep.name + "@" + ep.version;
  ep.methods = std::move(methods);
  ep.disabled = disabled;
  return ep;
}

config::Endpoint with_prefix(config::Endpoint ep, std::string prefix) {
  ep.prefix = std::move(prefix);
  ep.prefix_explicit = true;
  return ep;
}

RouteMatch match(const RouteTable& t, std::string_view path,
                 std::string_view version = "", std::string_view method = "GET") {
  return t.match(method, path, version);
}

TEST(VersionRoute, NewestVersionByNaturalOrder) {
  const RouteTable t(
      {versioned("users", "v1"), versioned("users", "v10"), versioned("users", "v2")});
  EXPECT_EQ(t.size(), 4u);  // three versions plus /users
  for (const char* path : {"/users", "/users/", "/users/42"}) {
    const RouteMatch m = match(t, path);
    EXPECT_EQ(m.kind, Kind::found) << path;
    EXPECT_EQ(m.endpoint, 1u) << path;
    EXPECT_EQ(m.matched_prefix, "/users") << path;
  }
  // The versioned prefixes still route directly, and are longer than /users.
  const RouteMatch direct = match(t, "/users/v2/42");
  EXPECT_EQ(direct.endpoint, 2u);
  EXPECT_EQ(direct.matched_prefix, "/users/v2");
  EXPECT_EQ(match(t, "/usersx").kind, Kind::no_route);
}

TEST(VersionRoute, DottedVersionsUseNumericComponents) {
  const RouteTable t(
      {versioned("svc", "1.10"), versioned("svc", "1.9"), versioned("svc", "1.2")});
  EXPECT_EQ(match(t, "/svc/x").endpoint, 0u);
}

TEST(VersionRoute, HeaderSelectsExactVersion) {
  const RouteTable t(
      {versioned("users", "v1"), versioned("users", "v2"), versioned("users", "v10")});
  const RouteMatch m = match(t, "/users/42", "v2");
  EXPECT_EQ(m.kind, Kind::found);
  EXPECT_EQ(m.endpoint, 1u);
  EXPECT_EQ(m.matched_prefix, "/users");
  EXPECT_EQ(match(t, "/users", "v1").endpoint, 0u);
  EXPECT_EQ(match(t, "/users", "v10").endpoint, 2u);
}

TEST(VersionRoute, UnknownHeaderVersionListsTheVersions) {
  const RouteTable t({versioned("users", "v10"), versioned("users", "v1"),
                      versioned("users", "v2")});
  for (const char* v : {"v3", "V1", "v01", "v", "v100"}) {
    const RouteMatch m = match(t, "/users/42", v);
    EXPECT_EQ(m.kind, Kind::unknown_version) << v;
    EXPECT_EQ(m.name, "users");
    EXPECT_EQ(m.versions, "v1, v2, v10");  // natural order
  }
}

TEST(VersionRoute, HeaderDoesNotAffectOtherRoutes) {
  const RouteTable t(
      {versioned("users", "v1"), versioned("users", "v2"), versioned("orders", "")});
  // A direct versioned prefix ignores the header.
  EXPECT_EQ(match(t, "/users/v1/7", "v2").endpoint, 0u);
  EXPECT_EQ(match(t, "/users/v1/7", "v9").kind, Kind::found);
  EXPECT_EQ(match(t, "/orders", "v9").kind, Kind::found);
}

TEST(VersionRoute, NameOwningBarePrefixGetsNoVersionRoute) {
  const RouteTable t(
      {versioned("users", ""), versioned("users", "v1"), versioned("users", "v2")});
  EXPECT_EQ(t.size(), 3u);
  for (const char* header : {"", "v2", "v9"}) {
    const RouteMatch m = match(t, "/users/42", header);
    EXPECT_EQ(m.kind, Kind::found) << header;
    EXPECT_EQ(m.endpoint, 0u) << header;
    EXPECT_EQ(m.matched_prefix, "/users") << header;
  }
}

TEST(VersionRoute, AnotherEndpointOwningBarePrefixWins) {
  // An unnamed endpoint with prefix /users owns it; users@v1 gets no bare route.
  config::Endpoint plain;
  plain.prefix = "/users";
  plain.id = "http://legacy";
  const RouteTable t({versioned("users", "v1"), plain});
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(match(t, "/users/1", "v1").endpoint, 1u);
}

TEST(VersionRoute, ExplicitPrefixesAreCandidates) {
  // All enabled endpoints of the name with a version are candidates, wherever mounted.
  const RouteTable t({with_prefix(versioned("users", "v1"), "/legacy/users"),
                      with_prefix(versioned("users", "v2"), "/next/users")});
  EXPECT_EQ(t.size(), 3u);
  const RouteMatch m = match(t, "/users/1");
  EXPECT_EQ(m.kind, Kind::found);
  EXPECT_EQ(m.endpoint, 1u);
  EXPECT_EQ(m.matched_prefix, "/users");
  EXPECT_EQ(match(t, "/users/1", "v1").endpoint, 0u);
  EXPECT_EQ(match(t, "/legacy/users/1").endpoint, 0u);
}

TEST(VersionRoute, DisabledVersionsAreSkipped) {
  const RouteTable t({versioned("users", "v1"), versioned("users", "v3", {}, true),
                      versioned("users", "v2")});
  const RouteMatch newest = match(t, "/users");
  EXPECT_EQ(newest.kind, Kind::found);
  EXPECT_EQ(newest.endpoint, 2u);
  EXPECT_EQ(match(t, "/users", "v3").kind, Kind::unknown_version);
  EXPECT_EQ(match(t, "/users/v3/x").kind, Kind::found);  // falls back to /users -> v2
  EXPECT_EQ(match(t, "/users/v3/x").endpoint, 2u);
}

TEST(VersionRoute, AllVersionsDisabledMeansNoRoute) {
  const RouteTable t(
      {versioned("users", "v1", {}, true), versioned("users", "v2", {}, true)});
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(match(t, "/users").kind, Kind::no_route);
}

TEST(VersionRoute, DisabledBarePrefixOwnerDoesNotBlockVersionRoute) {
  const RouteTable t({versioned("users", "", {}, true), versioned("users", "v1")});
  const RouteMatch m = match(t, "/users/1");
  EXPECT_EQ(m.kind, Kind::found);
  EXPECT_EQ(m.endpoint, 1u);
}

TEST(VersionRoute, MethodsOfChosenVersionApply) {
  const RouteTable t({versioned("users", "v1", {"GET", "POST", "DELETE"}),
                      versioned("users", "v2", {"GET"})});
  const RouteMatch m = match(t, "/users/1", "", "POST");
  EXPECT_EQ(m.kind, Kind::method_not_allowed);
  EXPECT_EQ(m.endpoint, 1u);
  EXPECT_EQ(m.allow, "GET, HEAD");
  EXPECT_EQ(m.matched_prefix, "/users");
  EXPECT_EQ(match(t, "/users/1", "", "HEAD").kind, Kind::found);
  const RouteMatch v1 = match(t, "/users/1", "v1", "POST");
  EXPECT_EQ(v1.kind, Kind::found);
  EXPECT_EQ(v1.endpoint, 0u);
}

TEST(VersionRoute, UnversionedNamesGetNoExtraRoute) {
  const RouteTable t({with_prefix(versioned("orders", ""), "/shop/orders")});
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(match(t, "/orders").kind, Kind::no_route);
}

TEST(VersionRoute, SeveralNamesAreIndependent) {
  const RouteTable t({versioned("a", "v1"), versioned("b", "v5"), versioned("a", "v3"),
                      versioned("b", "v4")});
  EXPECT_EQ(match(t, "/a").endpoint, 2u);
  EXPECT_EQ(match(t, "/b").endpoint, 1u);
  EXPECT_EQ(match(t, "/a", "v5").kind, Kind::unknown_version);
  EXPECT_EQ(match(t, "/a", "v5").versions, "v1, v3");
}

TEST(CompareVersions, NaturalOrder) {
  EXPECT_LT(compare_versions("v2", "v10"), 0);
  EXPECT_GT(compare_versions("v10", "v2"), 0);
  EXPECT_LT(compare_versions("1.9", "1.10"), 0);
  EXPECT_LT(compare_versions("v1", "v1.1"), 0);
  EXPECT_GT(compare_versions("v1.1", "v1"), 0);
  EXPECT_LT(compare_versions("1.2.9", "1.10.0"), 0);
  EXPECT_LT(compare_versions("v1", "v2"), 0);
  EXPECT_LT(compare_versions("2023-01-15", "2023-10-01"), 0);
  EXPECT_LT(compare_versions("v9", "v00010"), 0);   // leading zeros ignored
  EXPECT_LT(compare_versions("alpha", "beta"), 0);  // non-digits lexicographic
  EXPECT_LT(compare_versions("v1alpha", "v1beta"), 0);
  EXPECT_LT(compare_versions("", "v1"), 0);
  EXPECT_LT(compare_versions("99999999999999999999998", "99999999999999999999999"), 0);
  EXPECT_GT(compare_versions("123456789012345678901234567890", "9"), 0);
}

TEST(CompareVersions, EqualityAndSign) {
  EXPECT_EQ(compare_versions("v1", "v1"), 0);
  EXPECT_EQ(compare_versions("", ""), 0);
  EXPECT_EQ(compare_versions("1.10", "1.10"), 0);
  // Numerically equal but different text: still a strict, antisymmetric order.
  const int c = compare_versions("v01", "v1");
  EXPECT_NE(c, 0);
  EXPECT_EQ(compare_versions("v1", "v01"), -c);
  // Results are signs, usable as <0 / 0 / >0.
  const std::vector<std::string> sorted = {"",   "1",    "1.9", "1.10", "2",
                                           "v1", "v1.1", "v2",  "v10"};
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    for (std::size_t j = 0; j < sorted.size(); ++j) {
      const int expected = (i > j) - (i < j);
      EXPECT_EQ(compare_versions(sorted[i], sorted[j]), expected)
          << sorted[i] << " vs " << sorted[j];
    }
  }
}

}  // namespace
}  // namespace gatehouse::router
