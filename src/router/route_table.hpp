// router/: compiled route table: normalised path -> endpoint. No I/O.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace gatehouse::router {

struct RouteMatch {
  // unknown_version: the bare "/{name}" route, with an X-API-Version no endpoint of
  // that name has (a 404 that lists the versions there are).
  enum class Kind { found, no_route, method_not_allowed, unknown_version };
  Kind kind = Kind::no_route;
  // Index into the endpoint vector the table was built from (valid when found or
  // method_not_allowed).
  std::size_t endpoint = 0;
  // The prefix that matched (what strip_prefix removes, what X-Forwarded-Prefix
  // carries). For the bare "/{name}" version route this is "/{name}".
  std::string_view matched_prefix;
  // For method_not_allowed: the value of the Allow header, e.g. "GET, HEAD, POST".
  std::string_view allow;
  // For unknown_version: the endpoint name and its versions, e.g. "v1, v2".
  std::string_view name;
  std::string_view versions;
};

// One registered prefix, for listings (`gatehouse check --routes`).
struct RouteInfo {
  std::string prefix;
  // Indexes into the endpoint vector the table was built from: the one endpoint, or for
  // a bare "/{name}" version route every version, the one used without X-API-Version
  // (the newest) first.
  std::vector<std::size_t> endpoints;
  bool version_route = false;
};

// Immutable after construction; safe to share between threads.
class RouteTable {
 public:
  // Registers every enabled endpoint (disabled ones are skipped) under its effective
  // prefix, plus the bare "/{name}" version routes of SPEC section 3.
  explicit RouteTable(const config::EndpointList& endpoints);
  ~RouteTable();
  RouteTable(const RouteTable&) = delete;
  RouteTable& operator=(const RouteTable&) = delete;

  // `path` must already be normalised. `api_version` is the X-API-Version header value
  // ("" when absent). Whole-segment longest-prefix match; O(segments of path).
  RouteMatch match(std::string_view method, std::string_view path,
                   std::string_view api_version) const;

  std::size_t size() const;  // number of registered prefixes
  // Every registered prefix, sorted by prefix.
  std::vector<RouteInfo> routes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Natural order of version strings: v2 < v10, 1.9 < 1.10. Returns <0, 0, >0.
int compare_versions(std::string_view a, std::string_view b);

}  // namespace gatehouse::router
