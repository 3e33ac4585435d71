// registry/: the endpoint table snapshot: immutable once built, swapped atomically on
// reload, read by every thread without locks.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "auth/verifier.hpp"
#include "balance/balancer.hpp"
#include "balance/retry_budget.hpp"
#include "balance/retry_policy.hpp"
#include "config/config.hpp"
#include "health/endpoint_state.hpp"
#include "health/endpoint_stats.hpp"
#include "metrics/registry.hpp"
#include "ratelimit/limiter.hpp"
#include "net/tls_server.hpp"
#include "router/route_table.hpp"

namespace gatehouse::registry {

// The config's fallback_strategy, decided once (not compared as text per request).
enum class Fallback : std::uint8_t { error, cached, default_answer };

// One server of an endpoint: where requests go, and its own health and breaker state.
struct UpstreamServer {
  const config::UpstreamUrl* url = nullptr;
  std::uint32_t weight = 1;
  std::string host_header;   // Host sent upstream: "host" or "host:port", v6 bracketed
  std::string authority;     // "host:port" always (v6 bracketed): the access log's upstream
  std::string pool_key;      // upstream connections are shared between endpoints by key
  std::size_t pool_hash = 0;  // std::hash of pool_key, worked out once per snapshot
  std::shared_ptr<boost::asio::ssl::context> tls;  // null for http:// upstreams
  // Health, breaker, counters; shared by every thread and carried over reloads that
  // keep this server (same endpoint id and server URL, same health_check and
  // circuit_breaker). Null for disabled endpoints.
  std::shared_ptr<health::EndpointState> state;
};

// What the request path needs about an endpoint, computed once per snapshot.
struct EndpointRuntime {
  const config::Endpoint* config = nullptr;
  bool requires_jwt = false;  // auth_type: jwt
  Fallback fallback = Fallback::error;
  std::vector<UpstreamServer> servers;  // one per server of `url`, in config order
  // The endpoint as a whole (requests, latency, fallbacks, the `cached` fallback's
  // store); kept over a reload that keeps at least one of its servers' states. Null for
  // disabled endpoints.
  std::shared_ptr<health::EndpointStats> stats;
  // Spreads requests over `servers` (one shard per worker thread); per snapshot, so a
  // reload restarts the rotation. Null for disabled endpoints.
  std::shared_ptr<balance::Balancer> balancer;
  // `retries`, and with attempts > 0 the budget (per snapshot: a reload starts it empty).
  std::optional<balance::RetryPolicy> retry;
  std::shared_ptr<balance::RetryBudget> budget;
  // Counters and histograms of this endpoint id, from the process-wide metrics registry
  // (so they outlive reloads that keep the id); null when built without one.
  std::shared_ptr<metrics::EndpointMetrics> metrics;
  // The endpoint's rate limit and its buckets; null without `rate_limit` (and for
  // disabled endpoints). Carried over reloads that keep the id and the rate_limit.
  std::shared_ptr<ratelimit::Limiter> limiter;

  // The first server's state: the endpoint's own while it has one server. Null for a
  // disabled endpoint.
  health::EndpointState* state() const {
    return servers.empty() ? nullptr : servers.front().state.get();
  }
};

struct Snapshot {
  std::shared_ptr<const config::Config> config;
  // Shared with the previous snapshot when no endpoint changed what routes to it.
  std::shared_ptr<const router::RouteTable> routes;
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

// The endpoint's state as SPEC 7 derives it from its servers' (with one server: that
// server's own). Health: up when any server is up, down when all are down, else unknown.
// Breaker: closed when any is closed, else half_open when any is, else open. An open
// breaker past its reset_timeout reads half_open (as in the stats).
health::Health derived_health(const EndpointRuntime& ep);
health::BreakerState derived_breaker_state(const EndpointRuntime& ep);

// Builds the runtime view of a validated config. A server of an endpoint of `previous`
// with the same id, the same server URL and unchanged health_check and circuit_breaker
// keeps its state (SPEC sections 5 and 13); others start fresh with `callbacks`. Fails (returns null, sets `error`)
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
