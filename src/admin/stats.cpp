#include <boost/json.hpp>

#include "admin/admin.hpp"
#include "admin/json_text.hpp"
#include "common/time_format.hpp"

namespace gatehouse::admin {

namespace json = boost::json;

namespace {

json::value time_or_null(const std::optional<Clock::SystemTime>& t) {
  if (!t) return nullptr;
  return json::value(rfc3339_ms(*t));
}

json::value string_or_null(const std::string& s) {
  if (s.empty()) return nullptr;
  return json::value(s);
}

double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

// A duration as the config writes it: the largest unit that divides it.
std::string duration_text(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// SPEC 7: the endpoint's rate_limit, with the requests it refused (429), or null.
json::value rate_limit_of(const registry::EndpointRuntime& ep) {
  if (!ep.config->rate_limit) return nullptr;
  const auto& rl = *ep.config->rate_limit;
  std::uint64_t limited = 0;
  if (ep.metrics) {
    metrics::EndpointTotals totals;
    ep.metrics->merge_into(totals);
    limited = totals.errors[static_cast<std::size_t>(ErrorCode::rate_limited)];
  }
  return json::object{{"requests", rl.requests}, {"per", duration_text(rl.per)},
                      {"burst", rl.burst},       {"key", rl.key},
                      {"shared", rl.shared},     {"limited", limited}};
}

json::value breaker_json(const health::BreakerSnapshot& b) {
  return json::object{{"state", health::to_string(b.state)},
                      {"consecutive_failures", b.consecutive_failures},
                      {"opened_at", time_or_null(b.opened_at)},
                      {"next_attempt_at", time_or_null(b.next_attempt_at)}};
}

json::value check_json(const std::optional<health::CheckRecord>& check) {
  if (!check) return nullptr;
  const auto& c = *check;
  return json::object{{"at", rfc3339_ms(c.at)},
                      {"ok", c.ok},
                      {"status", c.status ? json::value(c.status) : json::value(nullptr)},
                      {"latency_ms", round3(c.latency_ms)},
                      {"error", c.error.empty() ? json::value(nullptr) : json::value(c.error)}};
}

// SPEC 7: the endpoint's breaker derived from its servers'. The state: closed when any
// is closed, else half_open when any is, else open; consecutive_failures the smallest;
// opened_at/next_attempt_at those of the server tried first: a closed one (none), else
// the first half-open one, else the one whose next attempt comes soonest.
health::BreakerSnapshot derived_breaker(const std::vector<health::EndpointSnapshot>& servers) {
  health::BreakerSnapshot out;
  const health::BreakerSnapshot* first = nullptr;
  std::uint32_t min_failures = UINT32_MAX;
  auto rank = [](health::BreakerState st) {
    return st == health::BreakerState::closed ? 0 : st == health::BreakerState::half_open ? 1 : 2;
  };
  for (const auto& s : servers) {
    const auto& b = s.circuit_breaker;
    min_failures = std::min(min_failures, b.consecutive_failures);
    if (!first || rank(b.state) < rank(first->state) ||
        (b.state == health::BreakerState::open && first->state == health::BreakerState::open &&
         b.next_attempt_at && first->next_attempt_at && *b.next_attempt_at < *first->next_attempt_at))
      first = &b;
  }
  if (!first) return out;
  out = *first;
  out.consecutive_failures = min_failures;
  return out;
}

json::object entry(const registry::Snapshot& snap, const registry::EndpointRuntime& ep) {
  const auto& cfg = *ep.config;
  json::object o;
  o["id"] = cfg.id;
  o["name"] = string_or_null(cfg.name);
  o["url"] = cfg.url.text;
  o["version"] = string_or_null(cfg.version);
  o["prefix"] = cfg.prefix;
  if (cfg.methods.empty()) {
    o["methods"] = nullptr;  // every method
  } else {
    json::array methods;
    for (const auto& m : cfg.methods) methods.emplace_back(m);
    o["methods"] = std::move(methods);
  }
  o["auth_type"] = string_or_null(cfg.auth_type);
  // Beyond SPEC 7's shape: the endpoint's WebSocket setting and tunnels (SPEC 15).
  o["websocket"] = json::object{
      {"enabled", cfg.websocket},
      {"tunnels_open", ep.metrics ? ep.metrics->tunnels_open() : 0},
      {"tunnels_total", ep.metrics ? ep.metrics->tunnels_total() : 0}};
  if (!ep.state()) {
    o["status"] = "disabled";
    o["health"] = "unknown";
    o["circuit_breaker"] = nullptr;
    o["last_updated"] = rfc3339_ms(snap.loaded_at);
    o["requests"] = json::object{{"total", 0}, {"failed", 0}, {"fallbacks", 0},
                                 {"latency_ms", json::object{{"p50", nullptr}, {"p99", nullptr}}}};
    o["last_health_check"] = nullptr;
    json::array targets;
    for (const auto& server : ep.servers)
      targets.emplace_back(json::object{{"url", server.url->text},
                                        {"weight", server.weight},
                                        {"health", "unknown"},
                                        {"circuit_breaker", nullptr},
                                        {"in_flight", 0},
                                        {"requests", json::object{{"total", 0}, {"failed", 0}}},
                                        {"last_health_check", nullptr}});
    o["targets"] = std::move(targets);
    o["rate_limit"] = rate_limit_of(ep);
    return o;
  }
  std::vector<health::EndpointSnapshot> servers;
  servers.reserve(ep.servers.size());
  for (const auto& server : ep.servers) servers.push_back(server.state->snapshot());
  const auto totals = ep.stats->totals();
  o["status"] = "enabled";
  o["health"] = health::to_string(registry::derived_health(ep));
  o["circuit_breaker"] = breaker_json(derived_breaker(servers));
  // The latest of: the registration or config change, and any server's transition.
  auto last_updated = ep.stats->last_updated();
  const std::optional<health::CheckRecord>* last_check = nullptr;
  for (const auto& s : servers) {
    last_updated = std::max(last_updated, s.last_updated);
    if (s.last_health_check && (!last_check || !*last_check || s.last_health_check->at > (*last_check)->at))
      last_check = &s.last_health_check;
  }
  o["last_updated"] = rfc3339_ms(last_updated);
  json::object latency;
  if (totals.latency) {
    latency["p50"] = round3(totals.latency->p50_ms);
    latency["p99"] = round3(totals.latency->p99_ms);
  } else {
    latency["p50"] = nullptr;
    latency["p99"] = nullptr;
  }
  o["requests"] = json::object{{"total", totals.requests_total},
                               {"failed", totals.requests_failed},
                               {"fallbacks", totals.fallbacks},
                               {"latency_ms", std::move(latency)}};
  o["last_health_check"] = last_check ? check_json(*last_check) : json::value(nullptr);
  json::array targets;
  for (std::size_t i = 0; i < ep.servers.size(); ++i) {
    const auto& s = servers[i];
    targets.emplace_back(json::object{
        {"url", ep.servers[i].url->text},
        {"weight", ep.servers[i].weight},
        {"health", health::to_string(s.health)},
        {"circuit_breaker", breaker_json(s.circuit_breaker)},
        {"in_flight", ep.balancer ? ep.balancer->in_flight(i) : 0},
        {"requests", json::object{{"total", s.requests_total}, {"failed", s.requests_failed}}},
        {"last_health_check", check_json(s.last_health_check)}});
  }
  o["targets"] = std::move(targets);
  o["rate_limit"] = rate_limit_of(ep);
  return o;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Full percent-decoding (the router keeps %2F encoded; ids may contain '/').
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Splits "a=b&c=d" and calls fn(name, value) with both percent-decoded.
template <class Fn>
bool for_each_param(std::string_view query, Fn&& fn) {
  std::string name, value;
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    if (!percent_decode(pair.substr(0, eq), name)) return false;
    if (!percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1),
                        value))
      return false;
    if (!fn(name, value)) return false;
  }
  return true;
}

}  // namespace

Reply stats_all(const registry::Snapshot& snap, const ConfigInfo& info, std::string_view query) {
  std::string status_filter, health_filter, bad;
  const bool ok = for_each_param(query, [&](const std::string& name, const std::string& value) {
    if (name == "status") {
      if (value != "enabled" && value != "disabled") {
        bad = "status must be enabled or disabled";
        return false;
      }
      status_filter = value;
    } else if (name == "health") {
      if (value != "up" && value != "down" && value != "unknown") {
        bad = "health must be up, down or unknown";
        return false;
      }
      health_filter = value;
    }
    return true;
  });
  if (!ok) return error_reply(ErrorCode::bad_request, bad.empty() ? "malformed query" : bad);

  json::array endpoints;
  for (const auto& ep : snap.endpoints) {
    json::object o = entry(snap, ep);
    if (!status_filter.empty() && o["status"].as_string() != status_filter) continue;
    if (!health_filter.empty() && o["health"].as_string() != health_filter) continue;
    endpoints.emplace_back(std::move(o));
  }
  json::object root;
  root["generated_at"] = rfc3339_ms(std::chrono::system_clock::now());
  root["config"] = json::object{{"path", info.path},
                                {"version", info.version},
                                {"loaded_at", rfc3339_ms(info.loaded_at)},
                                {"sha256", info.sha256}};
  root["endpoints"] = std::move(endpoints);
  Reply r;
  r.body = to_json(root);
  return r;
}

Reply stats_one(const registry::Snapshot& snap, std::string_view encoded_id) {
  std::string id;
  if (!percent_decode(encoded_id, id)) return error_reply(ErrorCode::bad_request, "malformed id");
  for (const auto& ep : snap.endpoints) {
    if (ep.config->id != id) continue;
    Reply r;
    r.body = to_json(entry(snap, ep));
    return r;
  }
  return error_reply(ErrorCode::no_route, "no endpoint with id '" + id + "'");
}

}  // namespace gatehouse::admin
