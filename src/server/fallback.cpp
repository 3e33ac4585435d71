// The fallbacks of an open breaker (default answer, the last cached success, the
// circuit_open error) and the capture that feeds the `cached` one.
#include "health/cache_rules.hpp"
#include "http/headers.hpp"
#include "server/session.hpp"

namespace gatehouse::server {

void Session::start_capture(health::EndpointState& state) {
  capturing_ = false;
  capture_.clear();
  health::ResponseCache* cache = state.cache();
  if (!cache || (req_.method != "GET" && req_.method != "HEAD")) return;
  if (res_.status < 200 || res_.status > 299) return;
  if (!health::storable(req_.method, health::has_credentials(req_.fields), res_.status,
                        res_.fields)) {
    // The newest successful answer may not be kept: an older one is no longer "the
    // last successful response".
    cache->erase(req_.method, path_, req_.query);
    return;
  }
  capture_limit_ = cache->max_entry_bytes();
  if (res_.body == http::BodyKind::length && res_.content_length > capture_limit_) return;
  capturing_ = true;
}

void Session::capture(std::string_view piece) {
  if (!capturing_) return;
  if (capture_.size() + piece.size() > capture_limit_) {
    capturing_ = false;  // too large to keep
    capture_.clear();
    return;
  }
  capture_.append(piece);
}

void Session::finish_capture(health::EndpointState& state, bool complete) {
  if (!capturing_) return;
  capturing_ = false;
  if (!complete) return;
  health::CachedResponse entry;
  entry.status = res_.status;
  for (const auto& f : res_.fields) {
    if (http::is_hop_by_hop(f.name) || http::named_by_connection(f.name, res_.connection_tokens) ||
        http::iequals(f.name, "content-length") || http::iequals(f.name, "x-request-id") ||
        http::iequals(f.name, "age"))
      continue;
    entry.headers.emplace_back(std::string(f.name), std::string(f.value));
    if (http::iequals(f.name, "cache-control")) {
      health::CacheControl cc;
      health::parse_cache_control(f.value, cc);
      entry.is_public = entry.is_public || cc.is_public;
    }
  }
  entry.body = std::move(capture_);
  capture_.clear();
  state.cache()->store(req_.method, path_, req_.query, std::move(entry));
}

net::Task<void> Session::send_fallback(const registry::EndpointRuntime& ep,
                                       const health::Admission& admission) {
  const auto& cfg = *ep.config;
  if (ep.fallback == registry::Fallback::default_answer && cfg.fallback) {
    ex_.fallback = "default";
    co_await send_response(cfg.fallback->status, cfg.fallback->content_type, cfg.fallback->body,
                           "X-Gatehouse-Fallback: default\r\n");
    co_return;
  }
  if (ep.fallback == registry::Fallback::cached && ep.state->cache() &&
      (req_.method == "GET" || req_.method == "HEAD")) {
    auto hit = ep.state->cache()->lookup(req_.method, path_, req_.query,
                                         health::has_credentials(req_.fields));
    if (hit) {
      ex_.fallback = "cached";
      std::string extra;
      std::string_view content_type = "application/octet-stream";
      for (const auto& [name, value] : hit->response->headers) {
        if (http::iequals(name, "content-type")) {
          content_type = value;
          continue;
        }
        extra.append(name).append(": ").append(value).append("\r\n");
      }
      extra.append("Age: ").append(std::to_string(hit->age_s)).append("\r\n");
      extra.append("X-Gatehouse-Fallback: cached\r\n");
      co_await send_response(hit->response->status, content_type, hit->response->body, extra);
      co_return;
    }
  }
  ex_.fallback = "error";
  const std::string retry_after =
      "Retry-After: " + std::to_string(std::max<std::uint32_t>(1, admission.retry_after_s)) + "\r\n";
  co_await send_error(ErrorCode::circuit_open,
                      "circuit breaker for endpoint '" + cfg.id + "' is open", cfg.id, retry_after);
}

}  // namespace gatehouse::server
