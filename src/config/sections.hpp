// config/: the parsers of each part of the file, shared by the loader. Internal to
// config/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/prescan.hpp"
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

// Where a rate_limit's settings were written (the endpoint's own mapping, or
// defaults.rate_limit for inherited ones), so a check on the merged result can blame them.
struct Located {
  std::string path;
  Pos pos;
};
struct RateLimitOrigin {
  Located where;          // the mapping that set requests (or the last one read)
  bool requests = false;  // some mapping set `requests`
  Located key;
  Located shared;
};
void parse_rate_limit(Context& ctx, const Value& v, RateLimit& out, RateLimitOrigin& origin);
// The checks on an endpoint's merged rate_limit: requests set, a bucket the arithmetic
// can hold, jwt_claim keys only with auth_type jwt, shared only with `redis`.
void check_rate_limit(Context& ctx, const RateLimit& rl, const RateLimitOrigin& origin,
                      const std::string& path, const Endpoint& ep, bool has_redis);
void parse_redis(Context& ctx, const Value& v, Redis& out);

struct Defaults {
  Duration connect_timeout = std::chrono::seconds(2);
  Duration timeout = std::chrono::seconds(30);
  Shared<HealthCheck> health_check;  // shared with each endpoint that does not set its own
  Shared<CircuitBreaker> circuit_breaker;
  Shared<Retries> retries;
  SharedOptional<RateLimit> rate_limit;
  RateLimitOrigin rate_limit_origin;
};
void parse_defaults(Context& ctx, const Value& v, Defaults& out);

// Several servers (parse_balancing.cpp). parse_servers reads `url` (a string or a list)
// into ep.servers and ep.url, and returns whether it is valid; parse_retries overrides
// field by field; parse_balancing reads load_balancing, hash_key and retries of `m`.
bool parse_servers(Context& ctx, const Value& v, Endpoint& ep);
void parse_retries(Context& ctx, const Value& v, Retries& out);
void parse_balancing(Context& ctx, const MapReader& m, Endpoint& ep);

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

// The whole YAML text into `cfg`, every error into ctx (loader.cpp). `defaults_out`
// receives the endpoints' defaults.
void parse_yaml(const std::string& text, const Prescan& scan, Context& ctx, Config& cfg,
                Defaults* defaults_out = nullptr);

// The same result as parse_yaml for a file whose endpoints mostly did not change since
// `previous` was loaded: endpoints whose text and surroundings are the same are copied
// from it, only the others go through yaml-cpp (reuse.cpp). Returns false, leaving ctx
// and cfg untouched, when that does not apply or anything is wrong with the file: the
// caller then parses the whole file, whose messages have their full context.
bool load_reusing(const std::string& text, const Prescan& scan, const Config& previous,
                  Context& ctx, Config& cfg);

}  // namespace gatehouse::config::detail
