#include "registry/snapshot.hpp"

#include <string_view>
#include <unordered_map>

#include "config/diff.hpp"
#include "net/tls_client.hpp"

namespace gatehouse::registry {

namespace {

// Built by appending: `"literal" + std::string&&` makes g++ 12 warn (-Wrestrict) about
// an overlap that cannot happen.
std::string host_header_for(const config::UpstreamUrl& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  std::string host;
  if (v6) host += '[';
  host += url.host;
  if (v6) host += ']';
  const bool default_port = url.port == (url.https ? 443 : 80);
  if (!default_port) {
    host += ':';
    host += std::to_string(url.port);
  }
  return host;
}

std::string tls_pool_suffix(const config::Endpoint& ep, std::uint64_t generation) {
  std::string out = "|";
  out += ep.tls.ca_file.value_or("");
  out += '|';
  out += ep.tls.server_name.value_or(ep.url.host);
  out += ep.tls.verify ? "|v|" : "|n|";
  out += std::to_string(ep.index);
  out += '@';
  out += std::to_string(generation);
  return out;
}

std::shared_ptr<boost::asio::ssl::context> make_tls(const config::Endpoint& ep,
                                                    std::string& error) {
  std::string why;
  auto ctx = net::make_client_context(ep.tls.verify, ep.tls.ca_file ? &*ep.tls.ca_file : nullptr, why);
  if (!ctx) error = "endpoint '" + ep.id + "': " + why;
  return ctx;
}

// The server's callbacks, plus counting into the endpoint's metrics. A carried-over state
// keeps its callbacks: same id, so the same metrics object.
health::EndpointCallbacks counting(const health::EndpointCallbacks& base,
                                   std::shared_ptr<metrics::EndpointMetrics> m) {
  health::EndpointCallbacks cb = base;
  cb.on_breaker = [next = base.on_breaker, m](const std::string& id,
                                              const health::BreakerTransition& t) {
    m->count_transition(static_cast<std::size_t>(t.from), static_cast<std::size_t>(t.to));
    if (next) next(id, t);
  };
  cb.on_probe = [next = base.on_probe, m](const std::string& id, bool ok) {
    m->count_health_check(ok);
    if (next) next(id, ok);
  };
  return cb;
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
  snap->routes = std::make_unique<router::RouteTable>(cfg->endpoints);
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
  // Carry-over candidates by id: one lookup per endpoint, linear in the table's size.
  std::unordered_map<std::string_view, const EndpointRuntime*> previous_by_id;
  if (previous) {
    previous_by_id.reserve(previous->endpoints.size());
    for (const auto& old : previous->endpoints)
      if (old.state()) previous_by_id.emplace(old.config->id, &old);
  }
  for (const auto& ep : cfg->endpoints) {
    EndpointRuntime rt;
    rt.config = &ep;
    rt.requires_jwt = ep.auth_type == "jwt";
    const auto& strategy = ep.circuit_breaker.fallback_strategy;
    rt.fallback = strategy == "cached"    ? Fallback::cached
                  : strategy == "default" ? Fallback::default_answer
                                          : Fallback::error;
    UpstreamServer server;
    server.url = &ep.url;
    server.host_header = host_header_for(ep.url);
    server.pool_key = (ep.url.https ? "https://" : "http://") + server.host_header;
    if (ep.url.https && !ep.disabled) {
      server.tls = make_tls(ep, error);
      if (!server.tls) return nullptr;
      server.pool_key += tls_pool_suffix(ep, generation);
    }
    if (metrics) rt.metrics = metrics->endpoint(ep.id);
    if (!ep.disabled) {
      const auto it = previous_by_id.find(ep.id);
      if (it != previous_by_id.end() && it->second->state()->keeps_state_for(ep)) {
        const EndpointRuntime& old = *it->second;
        server.state = old.servers.front().state;
        // Same identity: only a real change (tls, cache bounds, fallback...) counts as
        // an update and moves last_updated.
        if (!config::same_endpoint(*old.config, ep)) server.state->update_config(ep);
      }
      if (!server.state)
        server.state = std::make_shared<health::EndpointState>(
            ep, clock, rt.metrics ? counting(callbacks, rt.metrics) : callbacks);
    }
    rt.servers.push_back(std::move(server));
    snap->endpoints.push_back(std::move(rt));
  }
  return snap;
}

}  // namespace gatehouse::registry

namespace gatehouse::registry {

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
