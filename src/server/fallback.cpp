// The fallbacks of an open breaker: the default answer, the last cached success, or the
// circuit_open error.
#include "health/cache_rules.hpp"
#include "http/headers.hpp"
#include "server/pipeline.hpp"

namespace gatehouse::server {

net::Task<void> Pipeline::send_fallback(const registry::EndpointRuntime& ep) {
  const auto& cfg = *ep.config;
  const auto& req = ctx_.req;
  health::ResponseCache* cache = ep.stats->cache();
  if (ep.fallback == registry::Fallback::default_answer && cfg.fallback) {
    ctx_.fallback = metrics::Fallback::deflt;
    co_await send_response(cfg.fallback->status, cfg.fallback->content_type, cfg.fallback->body,
                           "X-Gatehouse-Fallback: default\r\n");
    co_return;
  }
  if (ep.fallback == registry::Fallback::cached && cache &&
      (req.method == "GET" || req.method == "HEAD")) {
    auto hit = cache->lookup(req.method, ctx_.path, req.query,
                                     health::has_credentials(req.fields));
    if (hit) {
      ctx_.fallback = metrics::Fallback::cached;
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
  ctx_.fallback = metrics::Fallback::error;
  const std::string retry_after =
      "Retry-After: " +
      std::to_string(std::max<std::uint32_t>(1, ctx_.admission.retry_after_s)) + "\r\n";
  const std::string detail =
      ep.servers.size() == 1
          ? "circuit breaker for endpoint '" + cfg.id + "' is open"
          : "no server of endpoint '" + cfg.id + "' is available (circuit breakers open or health down)";
  co_await send_error(ErrorCode::circuit_open, detail, retry_after);
}

}  // namespace gatehouse::server
