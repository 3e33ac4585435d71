// config/: the parsers of each part of the file, shared by the loader. Internal to
// config/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/yaml_walk.hpp"

namespace gatehouse::config::detail {

struct Context {
  Errors& errors;
  std::string config_path;  // `*_file` values are resolved against its directory
  std::vector<ConfigError> warnings;  // reported, but the file is valid

  // Reads a `*_file` value; reports an unreadable file at `v`. `resolved` receives the
  // resolved path either way.
  std::optional<std::string> read_referenced_file(const Value& v, const std::string& file,
                                                  std::string& resolved);
};

// listen, threads, shutdown_grace, watch, tls, log, limits.
void parse_server(Context& ctx, const MapReader& root, Config& cfg);

// tls: the certificate pairs (each read, parsed and matched), min_version, client_ca_file
// (parse_tls.cpp).
void parse_tls(Context& ctx, const Entry& entry, Config& cfg);

// auth: jwt and scopes, with the key and secret checks.
void parse_auth(Context& ctx, const Value& v, Auth& auth);

// Field-by-field overrides: only the keys present in `v` change `out`.
void parse_health_check(Context& ctx, const Value& v, HealthCheck& out);
void parse_circuit_breaker(Context& ctx, const Value& v, CircuitBreaker& out);
void parse_fallback(Context& ctx, const Value& v, Fallback& out);
void parse_cache(Context& ctx, const Value& v, Cache& out);

struct Defaults {
  Duration connect_timeout = std::chrono::seconds(2);
  Duration timeout = std::chrono::seconds(30);
  HealthCheck health_check;
  CircuitBreaker circuit_breaker;
};
void parse_defaults(Context& ctx, const Value& v, Defaults& out);

// An endpoint as parsed, with what the cross-endpoint checks need to report on it.
struct EndpointDraft {
  Endpoint ep;
  bool id_ok = false;      // name/version/url good enough to form the id
  bool prefix_ok = false;  // effective prefix valid
  std::string id_path;     // key path and position to blame for a duplicate id
  Pos id_pos;
  std::string prefix_path;  // ... and for a prefix conflict
  Pos prefix_pos;
};

EndpointDraft parse_endpoint(Context& ctx, const Value& v, std::size_t index,
                             const Config& cfg, const Defaults& defaults);

// Unique ids, unique prefixes among enabled endpoints, reserved paths.
void validate_endpoints(Context& ctx, const std::vector<EndpointDraft>& drafts);

}  // namespace gatehouse::config::detail
