// defaults, health_check, circuit_breaker, fallback and cache (shared by `defaults` and
// each endpoint: an endpoint's mapping overrides the defaults field by field).
#include <array>
#include <limits>

#include "config/addresses.hpp"
#include "config/sections.hpp"

namespace gatehouse::config::detail {
namespace {

constexpr std::array<std::string_view, 6> kHealthKeys = {
    "path", "interval", "timeout", "healthy_threshold", "unhealthy_threshold", "expected_status"};
constexpr std::array<std::string_view, 5> kBreakerKeys = {
    "failure_threshold", "reset_timeout", "half_open_requests", "failure_statuses",
    "fallback_strategy"};
constexpr std::array<std::string_view, 3> kFallbackKeys = {"status", "content_type", "body"};
constexpr std::array<std::string_view, 3> kCacheKeys = {"ttl", "max_entries", "max_bytes"};
constexpr std::array<std::string_view, 6> kDefaultsKeys = {
    "connect_timeout", "timeout", "health_check", "circuit_breaker", "retries", "rate_limit"};
constexpr std::uint64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
// The breaker counts trial slots in 15 bits of one atomic word (health/breaker.hpp).
constexpr std::uint64_t kMaxHalfOpenRequests = 32767;

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::optional<int> status_code(std::string_view s) {
  if (s.size() != 3) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v < 100 || v > 599) return std::nullopt;
  return v;
}

// "200", "200-399", "200,204,300-399".
std::optional<std::vector<StatusRange>> parse_status_ranges(std::string_view text) {
  std::vector<StatusRange> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    const auto item = trim(text.substr(start, end - start));
    const auto dash = item.find('-');
    const auto lo = status_code(trim(item.substr(0, dash)));
    const auto hi = dash == std::string_view::npos ? lo : status_code(trim(item.substr(dash + 1)));
    if (!lo || !hi || *lo > *hi) return std::nullopt;
    out.push_back({*lo, *hi});
    start = end + 1;
  }
  return out;
}

void parse_expected_status(Context& ctx, const Value& v, HealthCheck& out) {
  std::optional<std::vector<StatusRange>> ranges;
  if (v.node.IsScalar()) ranges = parse_status_ranges(v.node.Scalar());
  if (!ranges) {
    ctx.errors.add(v,
                   "must be status codes (100-599) or ranges, e.g. 200, \"200-399\" or "
                   "\"200,204,300-399\"");
    return;
  }
  out.expected_status = std::move(*ranges);
  out.expected_status_text = v.node.Scalar();
}

}  // namespace

void parse_health_check(Context& ctx, const Value& v, HealthCheck& out) {
  const MapReader m(ctx.errors, v, kHealthKeys);
  if (!m.ok()) return;
  if (auto path = m.string("path")) {
    if (path->front() != '/' || has_space_or_control(*path) || path->find('#') != std::string::npos) {
      ctx.errors.add(m.find("path")->value,
                     "must be an absolute path starting with '/', without spaces or '#'");
    } else {
      out.path = *path;
    }
  }
  MapReader::assign(out.interval, m.duration("interval"));
  MapReader::assign(out.timeout, m.duration("timeout"));
  MapReader::assign(out.healthy_threshold, m.integer("healthy_threshold", 1, kMaxU32));
  MapReader::assign(out.unhealthy_threshold, m.integer("unhealthy_threshold", 1, kMaxU32));
  if (const Entry* e = m.find("expected_status")) parse_expected_status(ctx, e->value, out);
}

void parse_circuit_breaker(Context& ctx, const Value& v, CircuitBreaker& out) {
  const MapReader m(ctx.errors, v, kBreakerKeys);
  if (!m.ok()) return;
  MapReader::assign(out.failure_threshold, m.integer("failure_threshold", 1, kMaxU32));
  MapReader::assign(out.reset_timeout, m.duration("reset_timeout"));
  MapReader::assign(out.half_open_requests,
                    m.integer("half_open_requests", 1, kMaxHalfOpenRequests));
  if (const Entry* e = m.find("failure_statuses")) {
    if (auto items = as_sequence(ctx.errors, e->value)) {
      std::vector<int> statuses;
      bool ok = true;
      for (const auto& item : *items) {
        if (auto code = as_integer(ctx.errors, item, 100, 599)) {
          statuses.push_back(static_cast<int>(*code));
        } else {
          ok = false;
        }
      }
      if (ok) out.failure_statuses = std::move(statuses);
    }
  }
  if (auto s = m.string("fallback_strategy")) {
    if (*s == "error" || *s == "cached" || *s == "default") {
      out.fallback_strategy = *s;
    } else {
      ctx.errors.add(m.find("fallback_strategy")->value, "must be one of error, cached, default");
    }
  }
}

void parse_fallback(Context& ctx, const Value& v, Fallback& out) {
  const MapReader m(ctx.errors, v, kFallbackKeys);
  if (!m.ok()) return;
  // 1xx is not a final response, so it cannot stand in for one.
  MapReader::assign(out.status, m.integer("status", 200, 599));
  if (auto ct = m.string("content_type")) {
    bool bad = false;
    for (unsigned char c : *ct) bad = bad || c < 0x20 || c == 0x7f;
    if (bad) {
      ctx.errors.add(m.find("content_type")->value, "must not contain control characters");
    } else {
      out.content_type = *ct;
    }
  }
  MapReader::assign(out.body, m.string("body", true));
}

void parse_cache(Context& ctx, const Value& v, Cache& out) {
  const MapReader m(ctx.errors, v, kCacheKeys);
  if (!m.ok()) return;
  MapReader::assign(out.ttl, m.duration("ttl"));
  MapReader::assign(out.max_entries, m.integer("max_entries", 1));
  MapReader::assign(out.max_bytes, m.size("max_bytes"));
}

void parse_defaults(Context& ctx, const Value& v, Defaults& out) {
  const MapReader m(ctx.errors, v, kDefaultsKeys);
  if (!m.ok()) return;
  MapReader::assign(out.connect_timeout, m.duration("connect_timeout"));
  MapReader::assign(out.timeout, m.duration("timeout"));
  if (const Entry* e = m.find("health_check")) parse_health_check(ctx, e->value, out.health_check.edit());
  if (const Entry* e = m.find("circuit_breaker")) {
    parse_circuit_breaker(ctx, e->value, out.circuit_breaker.edit());
  }
  if (const Entry* e = m.find("retries")) parse_retries(ctx, e->value, out.retries.edit());
  if (const Entry* e = m.find("rate_limit")) {
    RateLimit rl;
    parse_rate_limit(ctx, e->value, rl, out.rate_limit_origin);
    out.rate_limit = std::move(rl);
  }
}

}  // namespace gatehouse::config::detail
