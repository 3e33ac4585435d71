// RouteTable::routes() and format_routes(): what `gatehouse check --routes` prints.
#include "router/route_listing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatehouse::router {
namespace {

config::Endpoint ep(std::string name, std::string version, std::string url,
                    std::vector<std::string> methods = {}, bool disabled = false) {
  config::Endpoint e;
  e.name = name;
  e.version = version;
  e.id = version.empty() ? name : name + "@" + version;
  e.prefix = version.empty() ? "/" + name : "/" + name + "/" + version;
  e.url.text = std::move(url);
  e.methods = std::move(methods);
  e.disabled = disabled;
  return e;
}

TEST(RouteListing, EnabledRoutesAndTheBareVersionRouteSorted) {
  const std::vector<config::Endpoint> eps = {
      ep("users", "v2", "http://b/api"), ep("users", "v1", "http://a/api", {"GET"}),
      ep("off", "", "http://c", {}, true), ep("zeta", "", "http://z")};
  const RouteTable t(eps);
  const auto routes = t.routes();
  ASSERT_EQ(routes.size(), 4u);
  EXPECT_EQ(routes[0].prefix, "/users");
  EXPECT_TRUE(routes[0].version_route);
  EXPECT_EQ(routes[0].endpoints, (std::vector<std::size_t>{0, 1}));  // newest first
  EXPECT_EQ(routes[1].prefix, "/users/v1");
  EXPECT_EQ(routes[1].endpoints, (std::vector<std::size_t>{1}));
  EXPECT_EQ(routes[2].prefix, "/users/v2");
  EXPECT_EQ(routes[3].prefix, "/zeta");  // "off" is disabled: not listed

  EXPECT_EQ(format_routes(t, eps),
            "PREFIX     METHODS  ENDPOINT                                       SERVERS\n"
            "/users     *        users@v2 (newest; X-API-Version picks v1, v2)  http://b/api\n"
            "/users/v1  GET      users@v1                                       http://a/api\n"
            "/users/v2  *        users@v2                                       http://b/api\n"
            "/zeta      *        zeta                                           http://z\n");
}

TEST(RouteListing, EveryServerWithItsWeight) {
  std::vector<config::Endpoint> eps = {ep("users", "", "http://a:1/api"), ep("one", "", "http://o")};
  config::Server a{eps[0].url, 1};
  config::Server b;
  b.url.text = "http://b:2/api";
  b.weight = 3;
  eps[0].servers = {a, b};
  eps[1].servers = {config::Server{eps[1].url, 1}};
  const RouteTable t(eps);
  EXPECT_EQ(format_routes(t, eps),
            "PREFIX  METHODS  ENDPOINT  SERVERS\n"
            "/one    *        one       http://o\n"
            "/users  *        users     http://a:1/api, http://b:2/api (weight 3)\n");
}

}  // namespace
}  // namespace gatehouse::router
