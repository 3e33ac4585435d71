// config/: YAML -> validated plain structs. The only place yaml-cpp appears.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/endpoint_list.hpp"
#include "config/shared_value.hpp"

namespace gatehouse::config {

using Duration = std::chrono::milliseconds;

// One certificate of `tls`: the PEM bytes as validated (the listener loads these, not
// the file again), so a change of either file alone makes the configs differ.
struct TlsCertificate {
  std::string cert_file;
  std::string key_file;
  std::string cert_pem;             // chain, leaf first
  std::string key_pem;
  bool operator==(const TlsCertificate&) const = default;
};

struct Tls {                       // top-level `tls` (termination on listen; SPEC 12)
  std::vector<TlsCertificate> certificates;  // [0]: cert_file/key_file, the default
  bool tls13_only = false;         // min_version "1.3"
  std::optional<std::string> client_ca_file;  // mTLS
  std::string client_ca_pem;
  bool operator==(const Tls&) const = default;
};

struct Log {
  std::string level = "info";      // debug | info | warning | error
  std::string format = "text";     // text | json
  bool access_log = true;  bool operator==(const Log&) const = default;
};

struct Limits {
  std::uint64_t max_request_line = 8 * 1024;
  std::uint64_t max_header_bytes = 32 * 1024;
  std::uint64_t max_headers = 100;
  std::uint64_t max_body = 10 * 1024 * 1024;
  Duration header_timeout = std::chrono::seconds(10);
  Duration idle_timeout = std::chrono::seconds(60);
  std::uint64_t max_connections = 10000;  bool operator==(const Limits&) const = default;
};

// Every `*_file` path in these structs is already resolved against the config file's
// directory (use it as is).
struct Jwt {
  std::vector<std::string> algorithms;
  std::optional<std::string> hmac_secret_env;
  std::optional<std::string> hmac_secret_file;
  std::string hmac_secret;          // resolved bytes (from env or file)
  std::optional<std::string> public_key_file;
  std::optional<std::string> jwks_file;
  std::string key_sha256;           // digest of the key file's bytes (reloads compare it)
  std::optional<std::string> issuer;
  std::optional<std::string> audience;
  Duration leeway = std::chrono::seconds(30);
  std::string scope_claim = "scope";  bool operator==(const Jwt&) const = default;
};

struct Scopes {
  std::string stats = "gatehouse:stats";
  std::string reload = "gatehouse:admin";
  std::string metrics = "";  bool operator==(const Scopes&) const = default;
};

struct Auth {
  std::optional<Jwt> jwt;
  Scopes scopes;  bool operator==(const Auth&) const = default;
};

struct StatusRange {
  int lo = 200;
  int hi = 399;
  bool operator==(const StatusRange&) const = default;  // HealthCheck's == needs it
};

struct HealthCheck {
  bool enabled = true;              // false for `health_check: false`
  std::string path = "/health";
  Duration interval = std::chrono::seconds(10);
  Duration timeout = std::chrono::seconds(2);
  std::uint32_t healthy_threshold = 2;
  std::uint32_t unhealthy_threshold = 3;
  std::vector<StatusRange> expected_status{{200, 399}};
  std::string expected_status_text = "200-399";
  bool operator==(const HealthCheck&) const = default;
};

struct CircuitBreaker {
  std::uint32_t failure_threshold = 5;
  Duration reset_timeout = std::chrono::seconds(30);
  std::uint32_t half_open_requests = 1;
  std::vector<int> failure_statuses{502, 503, 504};
  std::string fallback_strategy = "error";   // error | cached | default
  bool operator==(const CircuitBreaker&) const = default;
};

struct Fallback {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool operator==(const Fallback&) const = default;
};

struct Cache {
  Duration ttl = std::chrono::seconds(60);
  std::uint64_t max_entries = 1000;
  std::uint64_t max_bytes = 8 * 1024 * 1024;
  bool operator==(const Cache&) const = default;
};

struct UpstreamTls {
  std::optional<std::string> ca_file;
  std::string ca_sha256;            // digest of the CA file's bytes (reloads compare it)
  std::optional<std::string> server_name;
  bool verify = true;
  bool operator==(const UpstreamTls&) const = default;
};

// The parsed pieces of `url`.
struct UpstreamUrl {
  std::string text;                 // as written
  bool https = false;
  std::string host;                 // without brackets for IPv6
  std::uint16_t port = 0;           // explicit or scheme default
  bool port_explicit = false;
  std::string base_path;            // "" or "/api" (never ends in '/')
  bool operator==(const UpstreamUrl&) const = default;
};

// Several servers per endpoint (SPEC section 13): `url` as a list, how requests are
// spread over them, and the retry policy.
struct Server {
  UpstreamUrl url;
  std::uint32_t weight = 1;         // 1..kMaxServerWeight
  bool operator==(const Server&) const = default;
};
inline constexpr std::uint32_t kMaxServerWeight = 256;

enum class LoadBalancing : std::uint8_t { round_robin, least_request, random, hash };

struct HashKey {                    // `hash_key`
  enum class Source : std::uint8_t { none, client_ip, header, cookie, query };
  Source source = Source::none;
  std::string name;                 // the header, cookie or query parameter name
  bool operator==(const HashKey&) const = default;
};

struct Retries {
  std::uint32_t attempts = 0;       // tries after the first
  bool on_connect_failure = true;   // `on`
  bool on_reset = true;
  bool on_timeout = true;
  std::vector<int> on_statuses{502, 503, 504};
  std::vector<std::string> methods{"GET", "HEAD", "OPTIONS", "PUT", "DELETE"};  // upper-case
  std::optional<Duration> per_try_timeout;  // unset: the endpoint's timeout
  double budget = 0.2;              // 0..1: share of the endpoint's requests
  bool operator==(const Retries&) const = default;
};

// `rate_limit` (SPEC section 14), defaults merged.
struct RateLimit {
  std::uint64_t requests = 0;       // tokens added per `per`
  Duration per = std::chrono::seconds(1);
  std::uint64_t burst = 0;          // extra bucket room
  std::string key = "client_ip";    // client_ip | header:NAME | jwt_claim:NAME | endpoint
  bool shared = false;              // the bucket lives in Redis
  bool operator==(const RateLimit&) const = default;
};

// Top-level `redis`: where `rate_limit.shared` buckets live.
struct Redis {
  std::string url;                  // as written
  bool tls = false;                 // rediss://
  std::string host;                 // without brackets for IPv6
  std::uint16_t port = 6379;
  std::uint32_t db = 0;             // the URL's path, /0 when absent
  std::optional<std::string> password_env;
  std::optional<std::string> password_file;
  std::string password;             // resolved bytes; "" = no AUTH
  Duration timeout = std::chrono::milliseconds(50);
  bool deny_on_error = false;       // on_error: deny
  UpstreamTls tls_settings;         // `redis.tls`: ca_file, server_name, verify
  bool operator==(const Redis&) const = default;
};

struct Endpoint {
  // Where the endpoint was written, for messages.
  int line = 0;
  int column = 0;
  std::size_t index = 0;            // position in `endpoints`

  UpstreamUrl url;                  // the first server's
  std::vector<Server> servers;      // every server of `url`, in order (at least one)
  LoadBalancing load_balancing = LoadBalancing::round_robin;
  HashKey hash_key;                 // source none unless load_balancing is hash
  Shared<Retries> retries;          // defaults merged (shared_value.hpp: read with ->)
  std::string name;                 // "" when absent
  std::string version;              // "" when absent
  std::string id;                   // name, name@version, or url text
  std::vector<std::string> methods; // empty = every method; upper-case
  std::string auth_type;            // "" when absent
  bool disabled = false;
  std::string prefix;               // effective prefix (explicit or default)
  bool prefix_explicit = false;
  bool strip_prefix = true;
  bool preserve_host = false;
  bool websocket = true;            // Upgrade: websocket is tunnelled (SPEC 15)
  std::vector<std::string> scopes;
  Duration connect_timeout = std::chrono::seconds(2);
  Duration timeout = std::chrono::seconds(30);
  std::uint64_t max_body = 10 * 1024 * 1024;  // from limits.max_body unless set
  Shared<UpstreamTls> tls;
  Shared<HealthCheck> health_check;        // defaults merged
  Shared<CircuitBreaker> circuit_breaker;  // defaults merged
  SharedOptional<Fallback> fallback;
  Cache cache;
  SharedOptional<RateLimit> rate_limit;  // none: not rate limited
};

using EndpointList = BasicEndpointList<Endpoint>;

// Where each endpoint's text is in the file, so that a reload parses only the endpoints
// whose text changed (source_index.hpp). Empty when the file's layout did not allow it.
struct SourceIndex {
  struct Digest {                   // 128-bit hash of a piece of the file's text
    std::uint64_t lo = 0;
    std::uint64_t hi = 0;
    bool operator==(const Digest&) const = default;
  };
  struct Item {
    Digest text;                    // the endpoint's sequence item, comments included
    std::uint32_t line_offset = 0;  // Endpoint::line minus the item's first line
    bool reusable = false;          // false: it read a file (tls.ca_file), parse it again
    // The index of the running config's endpoint this one was taken from unchanged by a
    // reload (kParsed: parsed from its text).
    std::uint32_t taken_from = kParsed;
  };
  static constexpr std::uint32_t kParsed = 0xffffffff;
  Digest context;                   // everything but the items, and the file's path
  std::vector<Item> items;          // parallel to Config::endpoints when not empty
  std::uint64_t taken_from_config = 0;  // the LoadSerial of the config items were taken from
};

// Tells configs apart: every Config gets a new value, a copy too (a copy may be changed,
// so it cannot vouch for what was taken from the original); a move keeps it.
struct LoadSerial {
  std::uint64_t value;
  LoadSerial();
  LoadSerial(const LoadSerial&) : LoadSerial() {}
  LoadSerial(LoadSerial&&) = default;
  LoadSerial& operator=(const LoadSerial&) { *this = LoadSerial(); return *this; }
  LoadSerial& operator=(LoadSerial&&) = default;
};

struct Config {
  std::string path;                 // file it was read from
  std::string sha256;               // hex digest of the file's bytes
  std::string listen = "0.0.0.0:8080";
  std::string listen_host = "0.0.0.0";   // without brackets
  std::uint16_t listen_port = 8080;
  std::uint32_t threads = 0;
  Duration shutdown_grace = std::chrono::seconds(15);
  bool watch = false;
  std::optional<Tls> tls;
  Log log;
  Limits limits;
  Auth auth;
  std::optional<Redis> redis;
  Duration default_connect_timeout = std::chrono::seconds(2);
  Duration default_timeout = std::chrono::seconds(30);
  EndpointList endpoints;           // every endpoint, disabled ones included
  SourceIndex source;
  LoadSerial serial;
};

// True when a reload took `after.endpoints[i]` unchanged from `before.endpoints[j]`
// (only its position may differ): then same_endpoint() holds without comparing them.
inline bool taken_unchanged(const Config& before, std::size_t j, const Config& after,
                            std::size_t i) {
  return after.source.taken_from_config == before.serial.value && i < after.source.items.size() &&
         after.source.items[i].taken_from == j;
}

struct ConfigError {
  std::string path;                 // key path, e.g. "endpoints[2].url"
  int line = 0;                     // 1-based; 0 when unknown
  int column = 0;                   // 1-based; 0 when unknown
  std::string message;
  std::string to_string() const;    // "endpoints[2].url (line 14, col 10): must be ..."
};

struct LoadResult {
  std::optional<Config> config;     // set only when errors is empty
  std::vector<ConfigError> errors;
  std::vector<ConfigError> warnings;  // e.g. a certificate that expires soon
};

// Parses and validates YAML text. `path` is used for messages and relative files
// (`*_file` keys are resolved relative to the config file's directory).
LoadResult load_from_string(const std::string& yaml_text, const std::string& path);

// With `previous` (the config running now, loaded from a file of the same path), the
// endpoints whose text and surroundings are unchanged are taken from it instead of being
// parsed again; the result is the same as without it.
LoadResult load_from_string(const std::string& yaml_text, const std::string& path,
                            const Config* previous);

// Reads the file; an unreadable file gives one error with an empty key path.
LoadResult load_from_file(const std::string& path, const Config* previous = nullptr);

}  // namespace gatehouse::config
