// registry/: the endpoint table snapshot: immutable once built, swapped atomically on
// reload, read by every thread without locks.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "router/route_table.hpp"

namespace gatehouse::registry {

// What the request path needs about an endpoint, computed once per snapshot.
struct EndpointRuntime {
  const config::Endpoint* config = nullptr;
  std::string host_header;   // Host sent upstream: "host" or "host:port", v6 bracketed
  std::string pool_key;      // upstream connections are shared between endpoints by key
  std::shared_ptr<boost::asio::ssl::context> tls;  // null for http:// upstreams
};

struct Snapshot {
  std::shared_ptr<const config::Config> config;
  std::unique_ptr<router::RouteTable> routes;
  std::vector<EndpointRuntime> endpoints;  // parallel to config->endpoints
  std::uint64_t generation = 0;
};

// Builds the runtime view of a validated config. Fails (returns null, sets `error`)
// only when a TLS trust store cannot be loaded.
std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> cfg,
                                               std::uint64_t generation, std::string& error);

}  // namespace gatehouse::registry
