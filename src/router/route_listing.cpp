#include "router/route_listing.hpp"

#include <algorithm>
#include <array>

namespace gatehouse::router {

namespace {

using Row = std::array<std::string, 4>;

std::string methods_of(const config::Endpoint& ep) {
  if (ep.methods.empty()) return "*";
  std::string out;
  for (const auto& m : ep.methods) {
    if (!out.empty()) out += ',';
    out += m;
  }
  return out;
}

std::string endpoint_of(const RouteInfo& route, const config::EndpointList& endpoints) {
  const config::Endpoint& chosen = endpoints[route.endpoints.front()];
  if (!route.version_route) return chosen.id;
  std::vector<std::string_view> versions;
  for (const std::size_t i : route.endpoints) versions.push_back(endpoints[i].version);
  std::sort(versions.begin(), versions.end(),
            [](std::string_view a, std::string_view b) { return compare_versions(a, b) < 0; });
  std::string out = chosen.id;
  out += " (newest; X-API-Version picks ";
  for (std::size_t i = 0; i < versions.size(); ++i) {
    if (i > 0) out += ", ";
    out += versions[i];
  }
  out += ')';
  return out;
}

// Every server, with its weight when it is not the default.
std::string servers_of(const config::Endpoint& ep) {
  std::string out;
  for (const config::Server& s : ep.servers) {
    if (!out.empty()) out += ", ";
    out += s.url.text;
    if (s.weight != 1) out += " (weight " + std::to_string(s.weight) + ")";
  }
  return out.empty() ? ep.url.text : out;
}

}  // namespace

std::string format_routes(const RouteTable& table, const config::EndpointList& endpoints) {
  std::vector<Row> rows;
  rows.push_back({"PREFIX", "METHODS", "ENDPOINT", "SERVERS"});
  for (const RouteInfo& route : table.routes()) {
    const config::Endpoint& ep = endpoints[route.endpoints.front()];
    rows.push_back({route.prefix, methods_of(ep), endpoint_of(route, endpoints), servers_of(ep)});
  }
  std::array<std::size_t, 4> width{};
  for (const Row& row : rows) {
    for (std::size_t c = 0; c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const Row& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      out += row[c];
      if (c + 1 < row.size()) out.append(width[c] - row[c].size() + 2, ' ');
    }
    out += '\n';
  }
  return out;
}

}  // namespace gatehouse::router
