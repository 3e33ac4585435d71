#include "registry/snapshot.hpp"

#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "config/diff.hpp"
#include "net/tls_client.hpp"

namespace gatehouse::registry {

namespace {

// "host[:port]", v6 bracketed; the port always, or only when not the scheme's default
// (the Host header). Built by appending: `"literal" + std::string&&` makes g++ 12 warn
// (-Wrestrict) about an overlap that cannot happen.
std::string host_port(const config::UpstreamUrl& url, bool always_port) {
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string out;
  if (v6) out += '[';
  out += url.host;
  if (v6) out += ']';
  if (always_port || url.port != (url.https ? 443 : 80)) {
    out += ':';
    out += std::to_string(url.port);
  }
  return out;
}

std::string tls_pool_suffix(const config::Endpoint& ep, const config::UpstreamUrl& url,
                            std::uint64_t generation) {
  std::string out = "|";
  out += ep.tls->ca_file.value_or("");
  out += '|';
  out += ep.tls->server_name.value_or(url.host);
  out += ep.tls->verify ? "|v|" : "|n|";
  out += std::to_string(ep.index);
  out += '@';
  out += std::to_string(generation);
  return out;
}

std::shared_ptr<boost::asio::ssl::context> make_tls(const config::Endpoint& ep,
                                                    std::string& error) {
  std::string why;
  auto ctx = net::make_client_context(ep.tls->verify, ep.tls->ca_file ? &*ep.tls->ca_file : nullptr, why);
  if (!ctx) error = "endpoint '" + ep.id + "': " + why;
  return ctx;
}

// The servers' callbacks, plus counting into each state's endpoint metrics (its context):
// one object for every state of the snapshot, not two closures per server. A
// carried-over state keeps its callbacks and context: same id, so the same metrics.
health::SharedCallbacks counting(const health::EndpointCallbacks& base) {
  health::EndpointCallbacks cb = base;
  cb.on_breaker = [next = base.on_breaker](const health::EndpointState& s,
                                           const health::BreakerTransition& t) {
    if (auto* m = static_cast<metrics::EndpointMetrics*>(s.context()))
      m->count_transition(static_cast<std::size_t>(t.from), static_cast<std::size_t>(t.to));
    if (next) next(s, t);
  };
  cb.on_probe = [next = base.on_probe](const health::EndpointState& s, bool ok) {
    if (auto* m = static_cast<metrics::EndpointMetrics*>(s.context())) m->count_health_check(ok);
    if (next) next(s, ok);
  };
  return std::make_shared<const health::EndpointCallbacks>(std::move(cb));
}

// True when two tables route alike: the same endpoints, position for position, in what
// the route table reads of them (the same object, or equal in those fields).
bool same_routes(const config::EndpointList& a, const config::EndpointList& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a.shared(i) == b.shared(i)) continue;
    const config::Endpoint& x = a[i];
    const config::Endpoint& y = b[i];
    if (x.disabled != y.disabled || x.prefix != y.prefix || x.name != y.name ||
        x.version != y.version || x.methods != y.methods)
      return false;
  }
  return true;
}

}  // namespace

std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> cfg,
                                               std::uint64_t generation,
                                               std::uint64_t config_version,
                                               const Snapshot* previous, const Clock& clock,
                                               const health::EndpointCallbacks& callbacks,
                                               std::string& error, metrics::Registry* metrics) {
  auto snap = std::make_shared<Snapshot>();
  snap->config = cfg;
  snap->generation = generation;
  snap->config_version = config_version;
  snap->routes = previous && same_routes(previous->config->endpoints, cfg->endpoints)
                     ? previous->routes
                     : std::make_shared<const router::RouteTable>(cfg->endpoints);
  snap->loaded_at = clock.system_now();
  if (cfg->auth.jwt) {
    std::string verr;
    auto verifier = auth::Verifier::create(*cfg->auth.jwt, nullptr, verr);
    if (!verifier) {
      error = "auth.jwt: " + verr;
      return nullptr;
    }
    snap->verifier = std::move(verifier);
  }
  if (cfg->tls) {
    net::ServerTls::Settings tls;
    for (const auto& c : cfg->tls->certificates)
      tls.certificates.push_back({c.cert_file, c.cert_pem, c.key_pem});
    tls.tls13_only = cfg->tls->tls13_only;
    tls.client_ca_pem = cfg->tls->client_ca_pem;
    std::string terr;
    snap->tls = net::ServerTls::create(tls, terr);
    if (!snap->tls) {
      error = "tls: " + terr;
      return nullptr;
    }
  }
  snap->endpoints.reserve(cfg->endpoints.size());
  // Carry-over candidates by id: the one at the same position when it has that id (most
  // reloads move nothing), else a lookup in an index made the first time it is needed.
  std::unordered_map<std::string_view, const EndpointRuntime*> previous_by_id;
  auto previous_of = [&](std::size_t i, const config::Endpoint& ep) -> const EndpointRuntime* {
    if (!previous || ep.disabled) return nullptr;
    if (i < previous->endpoints.size()) {
      const EndpointRuntime& at = previous->endpoints[i];
      if (at.config->id == ep.id) return at.state() ? &at : nullptr;
    }
    if (previous_by_id.empty()) {
      previous_by_id.reserve(previous->endpoints.size());
      for (const auto& old : previous->endpoints)
        if (old.state()) previous_by_id.emplace(old.config->id, &old);
    }
    const auto it = previous_by_id.find(ep.id);
    return it != previous_by_id.end() ? it->second : nullptr;
  };
  const unsigned shards = metrics ? metrics->shards() : 1;
  const health::SharedCallbacks shared_callbacks =
      metrics ? counting(callbacks) : std::make_shared<const health::EndpointCallbacks>(callbacks);
  struct KeptState {
    health::EndpointState* state;
    std::shared_ptr<const config::Endpoint> settings;
    std::size_t index, count;
    bool changed;
  };
  struct KeptStats {
    health::EndpointStats* stats;
    const config::Endpoint* settings;
  };
  // At start-up every server state, endpoint counter set and metrics object is new, and
  // they outlive this snapshot (reloads carry them over) while the rest of the runtime is
  // rebuilt by each reload. Made first, in a pass of their own, they sit together in the
  // heap instead of between the per-snapshot pieces, so what the first snapshot frees
  // when a reload replaces it is whole pages the allocator hands back.
  std::vector<std::shared_ptr<health::EndpointState>> fresh_states;
  std::vector<std::shared_ptr<health::EndpointStats>> fresh_stats;
  std::vector<std::shared_ptr<metrics::EndpointMetrics>> fresh_metrics;
  if (!previous) {
    fresh_stats.resize(cfg->endpoints.size());
    fresh_metrics.resize(cfg->endpoints.size());
    std::size_t servers = 0;
    for (const auto& ep : cfg->endpoints) servers += std::max<std::size_t>(1, ep.servers.size());
    fresh_states.reserve(servers);
    for (std::size_t e = 0; e < cfg->endpoints.size(); ++e) {
      const auto& ep = cfg->endpoints[e];
      if (metrics) fresh_metrics[e] = metrics->endpoint(ep.id);
      if (ep.disabled) continue;
      for (std::size_t i = 0; i < std::max<std::size_t>(1, ep.servers.size()); ++i)
        fresh_states.push_back(std::make_shared<health::EndpointState>(
            cfg->endpoints.shared(e), clock, shared_callbacks, fresh_metrics[e], i));
      fresh_stats[e] = std::make_shared<health::EndpointStats>(ep, clock);
    }
  }
  std::size_t next_fresh_state = 0;
  std::vector<KeptState> kept;
  std::vector<KeptStats> kept_stats;
  if (previous) kept.reserve(previous->endpoints.size());
  for (std::size_t position = 0; position < cfg->endpoints.size(); ++position) {
    const config::Endpoint& ep = cfg->endpoints[position];
    EndpointRuntime rt;
    rt.config = &ep;
    rt.requires_jwt = ep.auth_type == "jwt";
    const auto& strategy = ep.circuit_breaker->fallback_strategy;
    rt.fallback = strategy == "cached"    ? Fallback::cached
                  : strategy == "default" ? Fallback::default_answer
                                          : Fallback::error;
    const EndpointRuntime* old = previous_of(position, ep);
    // Same id, same registry: the old runtime's metrics are the ones a lookup would find.
    if (!previous) rt.metrics = std::move(fresh_metrics[position]);
    else if (metrics) rt.metrics = old && old->metrics ? old->metrics : metrics->endpoint(ep.id);
    // One TLS context for all servers: they share the endpoint's tls settings.
    std::shared_ptr<boost::asio::ssl::context> tls;
    if (ep.url.https && !ep.disabled) {
      tls = make_tls(ep, error);
      if (!tls) return nullptr;
    }
    // A config built by hand (tests) may leave `servers` empty: its `url` is the server.
    std::vector<config::Server> one;
    if (ep.servers.empty()) one.push_back(config::Server{ep.url, 1});
    const auto& servers = ep.servers.empty() ? one : ep.servers;
    bool kept_any = false;
    // The state's view of its settings is the config's own endpoint object (no copy per
    // server), shared with the next config while a reload leaves the endpoint as it is.
    const std::shared_ptr<const config::Endpoint>& settings = cfg->endpoints.shared(position);
    // The very object the old runtime was built from: its states are bound to it already.
    const bool same_object = old && old->config == &ep;
    const bool changed = old && !same_object &&
                         !config::taken_unchanged(*previous->config, old->config->index, *cfg,
                                                  ep.index) &&
                         !config::same_endpoint(*old->config, ep);
    for (std::size_t i = 0; i < servers.size(); ++i) {
      UpstreamServer server;
      server.url = ep.servers.empty() ? &ep.url : &ep.servers[i].url;
      server.weight = servers[i].weight;
      server.host_header = host_port(*server.url, false);
      server.authority = host_port(*server.url, true);
      server.pool_key = (server.url->https ? "https://" : "http://") + server.host_header;
      if (tls) {
        server.tls = tls;
        server.pool_key += tls_pool_suffix(ep, *server.url, generation);
      }
      server.pool_hash = std::hash<std::string_view>{}(server.pool_key);
      if (!ep.disabled) {
        if (old) {
          for (const auto& prev : old->servers) {
            if (!prev.state) continue;
            // With the same object, health_check and circuit_breaker are equal: only the
            // URL is left to compare (without the state's lock).
            if (same_object ? !(prev.state->url() == *server.url)
                            : !prev.state->keeps_state_for(ep, *server.url))
              continue;
            server.state = prev.state;
            kept.push_back({server.state.get(), same_object ? nullptr : settings, i,
                            servers.size(), changed});
            kept_any = true;
            break;
          }
        }
        if (!server.state && !previous) server.state = std::move(fresh_states[next_fresh_state++]);
        if (!server.state)
          server.state = std::make_shared<health::EndpointState>(settings, clock, shared_callbacks,
                                                                 rt.metrics, i);
      }
      rt.servers.push_back(std::move(server));
    }
    if (!ep.disabled) {
      // The endpoint's counters and cache go with its servers' states: kept while any
      // server's state is (for one server: exactly when its state is, as SPEC 5 says).
      if (kept_any && old->stats) {
        rt.stats = old->stats;
        if (changed) kept_stats.push_back({rt.stats.get(), &ep});
      } else if (!previous) {
        rt.stats = std::move(fresh_stats[position]);
      } else {
        rt.stats = std::make_shared<health::EndpointStats>(ep, clock);
      }
      rt.balancer = balance::make_balancer(balance::spec_of(ep, shards));
      rt.retry.emplace(*ep.retries, ep.timeout);
      if (rt.retry->enabled())
        rt.budget = std::make_shared<balance::RetryBudget>(ep.retries->budget, shards, clock);
      // Buckets survive a reload that leaves this endpoint's rate_limit as it was
      // (SPEC 14), whatever else changed; a changed one starts with full buckets.
      if (ep.rate_limit) {
        if (old && old->limiter && old->limiter->same_settings(*ep.rate_limit))
          rt.limiter = old->limiter;
        else
          rt.limiter = std::make_shared<ratelimit::Limiter>(*ep.rate_limit, ep.id, clock);
      }
    }
    snap->endpoints.push_back(std::move(rt));
  }
  // Only now that the snapshot is complete do carried-over states take their new
  // settings: a build that failed half-way leaves the running table as it was.
  for (auto& k : kept) {
    k.state->set_position(k.index, k.count);
    // Same identity: only a real change (tls, timeouts...) counts as an update and
    // moves last_updated.
    if (k.changed) k.state->update_config(std::move(k.settings));
    else if (k.settings) k.state->rebind(std::move(k.settings));  // null: bound already
  }
  for (const auto& k : kept_stats) k.stats->update_config(*k.settings);
  return snap;
}

}  // namespace gatehouse::registry

namespace gatehouse::registry {

health::Health derived_health(const EndpointRuntime& ep) {
  bool any_up = false, all_down = !ep.servers.empty();
  for (const auto& server : ep.servers) {
    if (!server.state) return health::Health::unknown;
    const auto h = server.state->health().status();
    any_up = any_up || h == health::Health::up;
    all_down = all_down && h == health::Health::down;
  }
  return any_up ? health::Health::up : all_down ? health::Health::down : health::Health::unknown;
}

health::BreakerState derived_breaker_state(const EndpointRuntime& ep) {
  bool any_half_open = false;
  for (const auto& server : ep.servers) {
    if (!server.state) return health::BreakerState::closed;
    auto& breaker = server.state->breaker();
    breaker.refresh();
    const auto st = breaker.state();
    if (st == health::BreakerState::closed) return st;
    any_half_open = any_half_open || st == health::BreakerState::half_open;
  }
  return any_half_open ? health::BreakerState::half_open : health::BreakerState::open;
}

std::vector<std::string_view> ids_of(const Snapshot& snap) {
  std::vector<std::string_view> out;
  out.reserve(snap.endpoints.size());
  for (const auto& ep : snap.endpoints) out.push_back(ep.config->id);
  return out;
}

std::vector<std::shared_ptr<health::EndpointState>> states_of(const Snapshot& snap) {
  std::vector<std::shared_ptr<health::EndpointState>> out;
  for (const auto& ep : snap.endpoints)
    for (const auto& server : ep.servers)
      if (server.state) out.push_back(server.state);
  return out;
}

}  // namespace gatehouse::registry
