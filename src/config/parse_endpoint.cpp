// One entry of `endpoints`: its own keys, defaults merged, and the checks that need
// only this endpoint (the cross-endpoint ones are in validate_endpoints.cpp).
#include <algorithm>
#include <array>
#include <cctype>

#include "config/files.hpp"
#include "config/addresses.hpp"
#include "config/keys.hpp"
#include "config/sections.hpp"

namespace gatehouse::config::detail {
namespace {

constexpr std::array<std::string_view, 23> kEndpointKeys = {
    "url",         "name",          "version",         "methods",  "auth_type",
    "disabled",    "prefix",        "strip_prefix",    "preserve_host", "scopes",
    "connect_timeout", "timeout",   "max_body",        "tls",      "health_check",
    "circuit_breaker", "fallback",  "cache",
    "load_balancing", "hash_key",   "retries",         "rate_limit", "websocket"};
constexpr std::array<std::string_view, 3> kUpstreamTlsKeys = {"ca_file", "server_name", "verify"};

// name and version become path segments and part of the id.
std::optional<std::string> id_part(Context& ctx, const MapReader& m, std::string_view key,
                                   bool forbid_at) {
  auto s = m.string(key);
  if (!s) return std::nullopt;
  if (s->find('/') != std::string::npos || has_space_or_control(*s) ||
      (forbid_at && s->find('@') != std::string::npos)) {
    ctx.errors.add(m.find(key)->value,
                   forbid_at ? "must not contain '/', '@', whitespace or control characters"
                             : "must not contain '/', whitespace or control characters");
    return std::nullopt;
  }
  return s;
}

void parse_methods(Context& ctx, const MapReader& m, Endpoint& ep) {
  auto items = m.string_list("methods");
  if (!items) return;
  if (m.find("methods")->value.node.size() == 0) {
    ctx.errors.add(m.key_path("methods"), m.find("methods")->value.pos,
                   "must list at least one method (leave it out to allow every method)");
    return;
  }
  for (auto& [method, value] : *items) {
    if (!is_token(method)) {
      ctx.errors.add(value, "is not a valid HTTP method token");
      continue;
    }
    std::string upper = method;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (std::find(ep.methods.begin(), ep.methods.end(), upper) == ep.methods.end()) {
      ep.methods.push_back(std::move(upper));
    }
  }
}

void parse_upstream_tls(Context& ctx, const Entry& entry, Endpoint& ep, bool url_ok) {
  const MapReader m(ctx.errors, entry.value, kUpstreamTlsKeys);
  if (!m.ok()) return;
  UpstreamTls& tls = ep.tls.edit();
  if (url_ok && !ep.url.https) {
    ctx.errors.add(entry.value.path, entry.key_pos, "applies to https:// upstreams only");
  }
  if (auto file = m.string("ca_file")) {
    std::string resolved;
    const Value& v = m.find("ca_file")->value;
    if (auto pem = ctx.read_referenced_file(v, *file, resolved)) {
      tls.ca_sha256 = sha256_hex(*pem);
      if (count_pem_certificates(*pem) == 0) {
        ctx.errors.add(v.path, v.pos, resolved + " holds no PEM certificate");
      }
    }
    tls.ca_file = resolved;
  }
  if (auto name = m.string("server_name")) {
    if (has_space_or_control(*name)) {
      ctx.errors.add(m.find("server_name")->value, "must be a host name");
    } else {
      tls.server_name = *name;
    }
  }
  MapReader::assign(tls.verify, m.boolean("verify"));
}

void parse_scopes(Context& ctx, const MapReader& m, Endpoint& ep) {
  auto items = m.string_list("scopes");
  if (!items) return;
  for (auto& [scope, value] : *items) {
    if (has_space_or_control(scope)) {
      ctx.errors.add(value, "must be a single scope (no spaces)");
      continue;
    }
    ep.scopes.push_back(std::move(scope));
  }
}

// A versioned endpoint also routes the bare "/{name}" (SPEC section 3), whatever its
// prefix: that path must be valid and not reserved either.
bool check_bare_route(Context& ctx, const MapReader& m, const Endpoint& ep, bool name_ok,
                      bool version_ok) {
  if (!name_ok || !version_ok || !m.has("version")) return true;
  const Value& name = m.find("name")->value;
  const std::string bare = "/" + ep.name;
  std::string normalized;
  std::string err = normalize_prefix(bare, normalized);
  if (err.empty()) {
    if (auto reserved = reserved_path_of(normalized); !reserved.empty()) {
      err = "takes the reserved gateway path " + std::string(reserved);
    }
  }
  if (err.empty()) return true;
  ctx.errors.add(name.path, name.pos,
                 "with a version, the name also routes " + quoted(bare) + ", which " + err);
  return false;
}

// Effective prefix: explicit, else /{name}/{version} or /{name}.
void resolve_prefix(Context& ctx, const MapReader& m, EndpointDraft& d, bool name_ok,
                    bool version_ok) {
  Endpoint& ep = d.ep;
  if (const Entry* e = m.find("prefix")) {
    d.prefix_path = e->value.path;
    d.prefix_pos = e->value.pos;
    auto text = as_string(ctx.errors, e->value);
    if (!text) return;
    if (auto err = normalize_prefix(*text, ep.prefix); !err.empty()) {
      ctx.errors.add(e->value, err);
      return;
    }
    ep.prefix_explicit = true;
    if (!check_bare_route(ctx, m, ep, name_ok, version_ok)) return;
  } else if (!m.has("name")) {
    ctx.errors.add(m.key_path("prefix"), m.pos(), "is required when the endpoint has no name");
    return;
  } else {
    if (!name_ok || (m.has("version") && !version_ok)) return;
    const Entry* blame = m.find(ep.version.empty() ? "name" : "version");
    d.prefix_path = blame->value.path;
    d.prefix_pos = blame->value.pos;
    std::string text = "/" + ep.name + (ep.version.empty() ? "" : "/" + ep.version);
    if (auto err = normalize_prefix(text, ep.prefix); !err.empty()) {
      ctx.errors.add(d.prefix_path, d.prefix_pos,
                     "gives the default prefix " + quoted(text) + ", which " + err +
                         "; set an explicit prefix");
      return;
    }
  }
  if (auto reserved = reserved_path_of(ep.prefix); !reserved.empty()) {
    ctx.errors.add(d.prefix_path, d.prefix_pos,
                   std::string(ep.prefix_explicit ? "prefix " : "default prefix ") +
                       quoted(ep.prefix) + " takes the reserved gateway path " +
                       std::string(reserved));
    return;
  }
  d.prefix_ok = true;
}

void parse_health(Context& ctx, const Entry& e, Endpoint& ep) {
  const YAML::Node& n = e.value.node;
  if (n.IsScalar() && n.Tag() == "?" && n.Scalar() == "false") {
    ep.health_check.edit().enabled = false;
  } else if (n.IsMap()) {
    parse_health_check(ctx, e.value, ep.health_check.edit());
  } else {
    ctx.errors.add(e.value, "must be a mapping, or false to disable checks");
  }
}

// The defaults' rate_limit, overridden field by field by the endpoint's own mapping, or
// none with `rate_limit: false`.
void parse_endpoint_rate_limit(Context& ctx, const MapReader& m, Endpoint& ep, const Config& cfg,
                               const Defaults& defaults) {
  std::optional<RateLimit> rl;
  if (defaults.rate_limit) rl = *defaults.rate_limit;
  RateLimitOrigin origin = defaults.rate_limit_origin;
  const Entry* e = m.find("rate_limit");
  if (e) {
    const YAML::Node& n = e->value.node;
    if (n.IsScalar() && n.Tag() == "?" && n.Scalar() == "false") {
      rl.reset();
    } else if (n.IsMap()) {
      if (!rl) rl.emplace();
      parse_rate_limit(ctx, e->value, *rl, origin);
    } else {
      ctx.errors.add(e->value, "must be a mapping, or false for no rate limit");
      return;
    }
  }
  if (!rl) return;
  check_rate_limit(ctx, *rl, origin, m.key_path("rate_limit"), ep, cfg.redis.has_value());
  if (e) ep.rate_limit = std::move(rl);
  else ep.rate_limit = defaults.rate_limit;  // the defaults' own object, shared
}

}  // namespace

EndpointDraft parse_endpoint(Context& ctx, const Value& v, std::size_t index, const Config& cfg,
                             const Defaults& defaults) {
  EndpointDraft d;
  Endpoint& ep = d.ep;
  ep.index = index;
  ep.line = v.pos.line;
  ep.column = v.pos.column;
  ep.connect_timeout = defaults.connect_timeout;
  ep.timeout = defaults.timeout;
  ep.max_body = cfg.limits.max_body;
  ep.health_check = defaults.health_check;
  ep.circuit_breaker = defaults.circuit_breaker;
  ep.retries = defaults.retries;

  const MapReader m(ctx.errors, v, kEndpointKeys);
  if (!m.ok()) return d;

  bool url_ok = false;
  if (const Entry* e = m.find("url")) {
    url_ok = parse_servers(ctx, e->value, ep);
  } else {
    ctx.errors.add(m.key_path("url"), m.pos(), "is required");
  }

  auto name = id_part(ctx, m, "name", true);
  auto version = id_part(ctx, m, "version", false);
  if (name) ep.name = *name;
  if (version) ep.version = *version;
  if (m.has("version") && !m.has("name")) {
    ctx.errors.add(m.key_path("version"), m.find("version")->key_pos,
                   "needs a name (the id and default prefix are name@version, /name/version)");
  }
  if (m.has("name")) {
    d.id_ok = name.has_value() && (!m.has("version") || version.has_value());
    ep.id = ep.version.empty() ? ep.name : ep.name + "@" + ep.version;
    d.id_path = m.key_path("name");
    d.id_pos = m.find("name")->value.pos;
  } else if (!m.has("version")) {
    d.id_ok = url_ok;
    ep.id = ep.url.text;
    if (const Entry* e = m.find("url")) {
      d.id_path = e->value.path;
      d.id_pos = e->value.pos;
    }
  }

  parse_methods(ctx, m, ep);
  if (auto auth = m.string("auth_type")) {
    std::string lower = *auth;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    // Case-insensitive so that "JWT" cannot silently leave an endpoint unprotected.
    ep.auth_type = lower == "jwt" ? lower : *auth;
  }
  MapReader::assign(ep.disabled, m.boolean("disabled"));
  resolve_prefix(ctx, m, d, name.has_value(), version.has_value());
  MapReader::assign(ep.strip_prefix, m.boolean("strip_prefix"));
  MapReader::assign(ep.preserve_host, m.boolean("preserve_host"));
  MapReader::assign(ep.websocket, m.boolean("websocket"));
  parse_scopes(ctx, m, ep);

  if (m.has("scopes") && ep.auth_type != "jwt") {
    ctx.errors.add(m.key_path("scopes"), m.find("scopes")->key_pos, "needs auth_type: jwt");
  }
  if (!cfg.auth.jwt && (ep.auth_type == "jwt" || m.has("scopes"))) {
    const Entry* blame = ep.auth_type == "jwt" ? m.find("auth_type") : m.find("scopes");
    ctx.errors.add(blame->value.path, blame->value.pos,
                   std::string(ep.auth_type == "jwt" ? "auth_type jwt" : "scopes") +
                       " needs an auth.jwt section to verify tokens with");
  }

  MapReader::assign(ep.connect_timeout, m.duration("connect_timeout"));
  MapReader::assign(ep.timeout, m.duration("timeout"));
  MapReader::assign(ep.max_body, m.size("max_body"));
  if (const Entry* e = m.find("tls")) parse_upstream_tls(ctx, *e, ep, url_ok);
  if (const Entry* e = m.find("health_check")) parse_health(ctx, *e, ep);
  if (const Entry* e = m.find("circuit_breaker")) {
    parse_circuit_breaker(ctx, e->value, ep.circuit_breaker.edit());
  }
  if (const Entry* e = m.find("fallback")) {
    Fallback fallback;
    parse_fallback(ctx, e->value, fallback);
    ep.fallback = std::move(fallback);
  }
  if (const Entry* e = m.find("cache")) parse_cache(ctx, e->value, ep.cache);
  parse_balancing(ctx, m, ep);
  parse_endpoint_rate_limit(ctx, m, ep, cfg, defaults);

  if (ep.circuit_breaker->fallback_strategy == "default" && !m.has("fallback")) {
    ctx.errors.add(m.key_path("fallback"), m.pos(),
                   "is required: the circuit breaker's fallback_strategy is \"default\"");
  }
  return d;
}

}  // namespace gatehouse::config::detail
