// Several servers per endpoint (SPEC sections 2 and 13): `url` as one URL or a list of
// servers, `load_balancing`, `hash_key` and `retries` (also under `defaults`).
#include <algorithm>
#include <array>
#include <cctype>
#include <limits>

#include "config/addresses.hpp"
#include "config/sections.hpp"

namespace gatehouse::config::detail {
namespace {

constexpr std::array<std::string_view, 2> kServerKeys = {"url", "weight"};
constexpr std::array<std::string_view, 5> kRetryKeys = {"attempts", "on", "methods",
                                                        "per_try_timeout", "budget"};
constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();

// A parsed server with the value its URL came from (what a cross-server error blames).
struct Parsed {
  Server server;
  Value url_value;
};

std::optional<Parsed> parse_server_url(Context& ctx, const Value& v, std::uint32_t weight) {
  auto text = as_string(ctx.errors, v);
  if (!text) return std::nullopt;
  Parsed p{Server{{}, weight}, v};
  if (auto err = parse_upstream_url(*text, p.server.url); !err.empty()) {
    ctx.errors.add(v, err);
    return std::nullopt;
  }
  return p;
}

std::optional<Parsed> parse_list_item(Context& ctx, const Value& item) {
  if (item.node.IsScalar()) return parse_server_url(ctx, item, 1);
  if (!item.node.IsMap()) {
    ctx.errors.add(item, "must be a URL or a mapping with url and weight");
    return std::nullopt;
  }
  const MapReader m(ctx.errors, item, kServerKeys);
  if (!m.ok()) return std::nullopt;
  const auto weight = m.integer("weight", 1, kMaxServerWeight);
  const Entry* url = m.find("url");
  if (!url) {
    ctx.errors.add(m.key_path("url"), m.pos(), "is required");
    return std::nullopt;
  }
  auto p = parse_server_url(ctx, url->value, static_cast<std::uint32_t>(weight.value_or(1)));
  if (m.has("weight") && !weight) return std::nullopt;
  return p;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The servers of one list must be replicas of one API: one scheme (one TLS setting
// applies), one base path (one path rewrite), each origin once.
bool check_servers(Context& ctx, const std::vector<Parsed>& servers) {
  bool ok = true;
  const UpstreamUrl& first = servers.front().server.url;
  for (std::size_t i = 1; i < servers.size(); ++i) {
    const UpstreamUrl& u = servers[i].server.url;
    const Value& blame = servers[i].url_value;
    if (u.https != first.https) {
      ctx.errors.add(blame, std::string("must use the same scheme as the first server (") +
                                (first.https ? "https://" : "http://") + ")");
      ok = false;
    } else if (u.base_path != first.base_path) {
      ctx.errors.add(blame, "must have the same base path as the first server (" +
                                quoted(first.base_path) + ")");
      ok = false;
    }
    for (std::size_t j = 0; j < i; ++j) {
      const UpstreamUrl& o = servers[j].server.url;
      if (o.https == u.https && o.port == u.port && lower(o.host) == lower(u.host)) {
        const Pos at = servers[j].url_value.pos;
        ctx.errors.add(blame, "is listed twice (first at line " + std::to_string(at.line) +
                                  ", col " + std::to_string(at.column) + ")");
        ok = false;
        break;
      }
    }
  }
  return ok;
}

std::optional<HashKey> parse_hash_key_text(std::string_view text) {
  if (text == "client_ip") return HashKey{HashKey::Source::client_ip, ""};
  struct Prefix {
    std::string_view text;
    HashKey::Source source;
  };
  for (const Prefix& p : {Prefix{"header:", HashKey::Source::header},
                          Prefix{"cookie:", HashKey::Source::cookie},
                          Prefix{"query:", HashKey::Source::query}}) {
    if (text.substr(0, p.text.size()) != p.text) continue;
    const std::string_view name = text.substr(p.text.size());
    // Header and cookie names are tokens (RFC 9110, RFC 6265); a query parameter
    // name is anything that cannot end the name inside a query string.
    const bool ok = p.source == HashKey::Source::query
                        ? !name.empty() && !has_space_or_control(name) &&
                              name.find_first_of("&=#") == std::string_view::npos
                        : is_token(name);
    if (!ok) return std::nullopt;
    return HashKey{p.source, std::string(name)};
  }
  return std::nullopt;
}

// "20%", "12.5%", "0%", "100%" -> 0..1.
std::optional<double> parse_percentage(std::string_view text) {
  if (text.size() < 2 || text.back() != '%') return std::nullopt;
  text.remove_suffix(1);
  double value = 0;
  double scale = 0;  // 0 before the point, then 0.1, 0.01, ...
  bool digits = false;
  for (char c : text) {
    if (c == '.' && scale == 0 && digits) {
      scale = 0.1;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    digits = true;
    if (scale == 0) {
      value = value * 10 + (c - '0');
      if (value > 100) return std::nullopt;
    } else {
      value += (c - '0') * scale;
      scale /= 10;
    }
  }
  if (!digits || text.back() == '.' || value > 100) return std::nullopt;
  return value / 100;
}

void parse_retry_on(Context& ctx, const Value& v, Retries& out) {
  auto items = as_string_list(ctx.errors, v);
  if (!items) return;
  Retries on;
  on.on_connect_failure = on.on_reset = on.on_timeout = false;
  on.on_statuses.clear();
  bool ok = items->size() == v.node.size();
  for (const auto& [text, item] : *items) {
    if (text == "connect_failure") on.on_connect_failure = true;
    else if (text == "reset") on.on_reset = true;
    else if (text == "timeout") on.on_timeout = true;
    else if (text == "502" || text == "503" || text == "504") {
      const int status = std::stoi(text);
      if (std::find(on.on_statuses.begin(), on.on_statuses.end(), status) ==
          on.on_statuses.end()) {
        on.on_statuses.push_back(status);
      }
    } else {
      ctx.errors.add(item, "must be one of connect_failure, reset, timeout, 502, 503, 504");
      ok = false;
    }
  }
  if (!ok) return;
  std::sort(on.on_statuses.begin(), on.on_statuses.end());
  out.on_connect_failure = on.on_connect_failure;
  out.on_reset = on.on_reset;
  out.on_timeout = on.on_timeout;
  out.on_statuses = std::move(on.on_statuses);
}

void parse_retry_methods(Context& ctx, const Value& v, Retries& out) {
  auto items = as_string_list(ctx.errors, v);
  if (!items) return;
  std::vector<std::string> methods;
  bool ok = items->size() == v.node.size();
  for (const auto& [method, item] : *items) {
    if (!is_token(method)) {
      ctx.errors.add(item, "is not a valid HTTP method token");
      ok = false;
      continue;
    }
    std::string upper = method;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (std::find(methods.begin(), methods.end(), upper) == methods.end()) {
      methods.push_back(std::move(upper));
    }
  }
  // An empty list is meaningful: only tries that reached no upstream are retried.
  if (ok) out.methods = std::move(methods);
}

}  // namespace

bool parse_servers(Context& ctx, const Value& v, Endpoint& ep) {
  if (!v.node.IsSequence() && !v.node.IsScalar()) {
    ctx.errors.add(v, v.node.IsMap() ? "must be a URL or a list of servers, got a mapping"
                                     : "must be a URL or a list of servers");
    return false;
  }
  if (v.node.IsScalar()) {
    auto p = parse_server_url(ctx, v, 1);
    if (!p) return false;
    ep.url = p->server.url;
    ep.servers = {std::move(p->server)};
    return true;
  }
  auto items = as_sequence(ctx.errors, v);
  if (!items) return false;
  if (items->empty()) {
    ctx.errors.add(v, "must list at least one server");
    return false;
  }
  std::vector<Parsed> parsed;
  bool ok = true;
  for (const Value& item : *items) {
    if (auto p = parse_list_item(ctx, item)) {
      parsed.push_back(std::move(*p));
    } else {
      ok = false;
    }
  }
  if (parsed.empty()) return false;
  ok = check_servers(ctx, parsed) && ok;
  ep.url = parsed.front().server.url;
  ep.servers.clear();
  for (auto& p : parsed) ep.servers.push_back(std::move(p.server));
  return ok;
}

void parse_retries(Context& ctx, const Value& v, Retries& out) {
  const MapReader m(ctx.errors, v, kRetryKeys);
  if (!m.ok()) return;
  MapReader::assign(out.attempts, m.integer("attempts", 0, kMaxU32));
  if (const Entry* e = m.find("on")) parse_retry_on(ctx, e->value, out);
  if (const Entry* e = m.find("methods")) parse_retry_methods(ctx, e->value, out);
  if (auto d = m.duration("per_try_timeout")) out.per_try_timeout = *d;
  if (const Entry* e = m.find("budget")) {
    std::optional<double> share;
    if (e->value.node.IsScalar()) share = parse_percentage(e->value.node.Scalar());
    if (share) {
      out.budget = *share;
    } else {
      ctx.errors.add(e->value, "must be a percentage from 0% to 100% (e.g. \"20%\")");
    }
  }
}

void parse_balancing(Context& ctx, const MapReader& m, Endpoint& ep) {
  bool lb_bad = false;  // already reported: hash_key is not judged against it
  if (const Entry* lb = m.find("load_balancing")) {
    auto s = as_string(ctx.errors, lb->value);
    if (!s) lb_bad = true;
    else if (*s == "round_robin") ep.load_balancing = LoadBalancing::round_robin;
    else if (*s == "least_request") ep.load_balancing = LoadBalancing::least_request;
    else if (*s == "random") ep.load_balancing = LoadBalancing::random;
    else if (*s == "hash") ep.load_balancing = LoadBalancing::hash;
    else {
      ctx.errors.add(lb->value, "must be one of round_robin, least_request, random, hash");
      lb_bad = true;
    }
  }
  const bool hash = ep.load_balancing == LoadBalancing::hash;
  if (const Entry* e = m.find("hash_key")) {
    if (auto s = as_string(ctx.errors, e->value)) {
      if (auto key = parse_hash_key_text(*s)) {
        if (hash) ep.hash_key = std::move(*key);
      } else {
        ctx.errors.add(e->value, "must be client_ip, header:NAME, cookie:NAME or query:NAME");
      }
    }
    if (!hash && !lb_bad) {
      ctx.errors.add(e->value.path, e->key_pos, "applies to load_balancing: hash only");
    }
  } else if (hash) {
    ctx.errors.add(m.find("load_balancing")->value,
                   "needs a hash_key (client_ip, header:NAME, cookie:NAME or query:NAME)");
  }
  if (const Entry* e = m.find("retries")) parse_retries(ctx, e->value, ep.retries.edit());
}

}  // namespace gatehouse::config::detail
