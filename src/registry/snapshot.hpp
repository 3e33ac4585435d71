// registry/: the endpoint table snapshot: immutable once built, swapped atomically on
// reload, read by every thread without locks.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "auth/verifier.hpp"
#include "config/config.hpp"
#include "health/endpoint_state.hpp"
#include "metrics/registry.hpp"
#include "net/tls_server.hpp"
#include "router/route_table.hpp"

namespace gatehouse::registry {

// The config's fallback_strategy, decided once (not compared as text per request).
enum class Fallback : std::uint8_t { error, cached, default_answer };

// One server of an endpoint: where requests go, and its own health and breaker state.
struct UpstreamServer {
  const config::UpstreamUrl* url = nullptr;
  std::string host_header;   // Host sent upstream: "host" or "host:port", v6 bracketed
  std::string pool_key;      // upstream connections are shared between endpoints by key
  std::shared_ptr<boost::asio::ssl::context> tls;  // null for http:// upstreams
  // Health, breaker, counters; shared by every thread and carried over reloads that
  // keep the endpoint's identity. Null for disabled endpoints.
  std::shared_ptr<health::EndpointState> state;
};

// What the request path needs about an endpoint, computed once per snapshot.
struct EndpointRuntime {
  const config::Endpoint* config = nullptr;
  bool requires_jwt = false;  // auth_type: jwt
  Fallback fallback = Fallback::error;
  std::vector<UpstreamServer> servers;  // one per upstream URL
  // Counters and histograms of this endpoint id, from the process-wide metrics registry
  // (so they outlive reloads that keep the id); null when built without one.
  std::shared_ptr<metrics::EndpointMetrics> metrics;

  // The first server's state: the endpoint's own while it has one server. Null for a
  // disabled endpoint.
  health::EndpointState* state() const {
    return servers.empty() ? nullptr : servers.front().state.get();
  }
};

struct Snapshot {
  std::shared_ptr<const config::Config> config;
  std::unique_ptr<router::RouteTable> routes;
  std::vector<EndpointRuntime> endpoints;  // parallel to config->endpoints
  std::uint64_t generation = 0;
  std::uint64_t config_version = 1;        // bumped by every reload that changes something
  std::chrono::system_clock::time_point loaded_at{};
  // Verifies bearer tokens for the gateway API and `auth_type: jwt` endpoints; null
  // without auth.jwt. Per snapshot, so a reload re-reads keys and flushes its cache.
  std::shared_ptr<const auth::Verifier> verifier;
  // TLS termination on listen (SPEC 12); null without `tls`. Per snapshot, so a reload
  // brings new certificates to new handshakes; a connection holds the one it began with.
  std::shared_ptr<net::ServerTls> tls;
};

// Builds the runtime view of a validated config. An endpoint of `previous` with the same
// id whose url, health_check and circuit_breaker are unchanged keeps its state (SPEC
// section 5); others start fresh with `callbacks`. Fails (returns null, sets `error`)
// only when a TLS trust store or the listener's certificates cannot be loaded. With `metrics`, every endpoint (disabled
// ones too) gets its id's metrics, and new endpoint states count breaker transitions
// and health probes there.
std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> cfg,
                                               std::uint64_t generation,
                                               std::uint64_t config_version,
                                               const Snapshot* previous, const Clock& clock,
                                               const health::EndpointCallbacks& callbacks,
                                               std::string& error,
                                               metrics::Registry* metrics = nullptr);

// The ids of a snapshot's endpoints, e.g. for metrics::Registry::retain_only.
std::vector<std::string_view> ids_of(const Snapshot& snap);

// Every endpoint state of a snapshot (enabled endpoints), e.g. for the health checker.
std::vector<std::shared_ptr<health::EndpointState>> states_of(const Snapshot& snap);

}  // namespace gatehouse::registry
