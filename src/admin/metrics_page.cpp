#include "admin/metrics_page.hpp"

#include <charconv>

#include "metrics/exposition.hpp"

namespace gatehouse::admin {

namespace {

using metrics::append_family_header;
using metrics::Sample;

// Families whose samples come one or more per endpoint: written into their own buffers
// in one pass over the table, then joined (a family's samples must be contiguous).
struct Families {
  std::string requests, duration, upstream, errors, up, enabled, state, transitions, fallbacks,
      health_checks, rate_limited, tunnels_open, tunnels_total, target_up, target_requests, retries,
      budget_exhausted;
};

constexpr double kNsPerSecond = 1e9;

void write_traffic(Families& f, std::string_view id, const metrics::EndpointTotals& t,
                   std::string& labels) {
  for (const auto& [key, count] : t.requests) {
    char code[8];
    const auto [end, ec] = std::to_chars(code, code + sizeof code, metrics::key_status(key));
    Sample(f.requests, "gatehouse_requests_total")
        .escaped_label("endpoint", id)
        .label("method", metrics::method_label(metrics::key_method(key)))
        .label("code", std::string_view(code, static_cast<std::size_t>(end - code)))
        .value(count);
  }
  labels.assign("endpoint=\"").append(id).append("\"");
  if (t.duration.count() > 0)
    metrics::append_histogram(f.duration, "gatehouse_request_duration_seconds", labels,
                              metrics::kBucketLabels, t.duration.buckets,
                              static_cast<double>(t.duration.sum_ns) / kNsPerSecond);
  if (t.upstream.count() > 0)
    metrics::append_histogram(f.upstream, "gatehouse_upstream_duration_seconds", labels,
                              metrics::kBucketLabels, t.upstream.buckets,
                              static_cast<double>(t.upstream.sum_ns) / kNsPerSecond);
  for (std::size_t e = 0; e < metrics::kErrorCodes; ++e) {
    if (t.errors[e] == 0) continue;
    Sample(f.errors, "gatehouse_errors_total")
        .escaped_label("endpoint", id)
        .label("type", code_name(static_cast<ErrorCode>(e)))
        .value(t.errors[e]);
  }
  for (std::size_t i = 0; i < metrics::kFallbacks; ++i) {
    if (t.fallbacks[i] == 0) continue;
    Sample(f.fallbacks, "gatehouse_fallbacks_total")
        .escaped_label("endpoint", id)
        .label("strategy", metrics::fallback_label(static_cast<metrics::Fallback>(i)))
        .value(t.fallbacks[i]);
  }
  for (std::size_t from = 0; from < metrics::kBreakerStates; ++from) {
    for (std::size_t to = 0; to < metrics::kBreakerStates; ++to) {
      if (t.transitions[from][to] == 0) continue;
      Sample(f.transitions, "gatehouse_circuit_breaker_transitions_total")
          .escaped_label("endpoint", id)
          .label("from", metrics::kBreakerStateLabels[from])
          .label("to", metrics::kBreakerStateLabels[to])
          .value(t.transitions[from][to]);
    }
  }
  for (std::size_t r = 0; r < 2; ++r) {
    if (t.health_checks[r] == 0) continue;
    Sample(f.health_checks, "gatehouse_health_checks_total")
        .escaped_label("endpoint", id)
        .label("result", r == 0 ? "success" : "failure")
        .value(t.health_checks[r]);
  }
}

bool up_of(health::Health h, health::BreakerState bs) {
  return h == health::Health::up || (h == health::Health::unknown && bs != health::BreakerState::open);
}

void write_state(Families& f, std::string_view id, const registry::EndpointRuntime& ep) {
  const bool enabled = !ep.config->disabled && ep.state();
  Sample(f.enabled, "gatehouse_endpoint_enabled").escaped_label("endpoint", id).value(enabled ? 1 : 0);
  if (!enabled) {
    Sample(f.up, "gatehouse_endpoint_up").escaped_label("endpoint", id).value(0);
    return;
  }
  // The endpoint's state as SPEC 7 derives it (one server: its own). An open breaker
  // past its reset_timeout reads half_open, as in the stats.
  const health::BreakerState bs = registry::derived_breaker_state(ep);
  const health::Health h = registry::derived_health(ep);
  Sample(f.up, "gatehouse_endpoint_up").escaped_label("endpoint", id).value(up_of(h, bs) ? 1 : 0);
  for (std::size_t s = 0; s < metrics::kBreakerStates; ++s) {
    Sample(f.state, "gatehouse_circuit_breaker_state")
        .escaped_label("endpoint", id)
        .label("state", metrics::kBreakerStateLabels[s])
        .value(static_cast<std::size_t>(bs) == s ? 1 : 0);
  }
  // Per server (SPEC 10): `target` is the server's URL from the config, so the series
  // are bounded by the config.
  for (const auto& server : ep.servers) {
    auto& state = *server.state;
    const std::string_view target = state.target();
    const bool server_up = up_of(state.health().status(), state.breaker().state());
    Sample(f.target_up, "gatehouse_target_up")
        .escaped_label("endpoint", id)
        .label("target", target)
        .value(server_up ? 1 : 0);
    for (const auto& cc : state.codes()) {
      char code[8];
      const auto [end, ec] = std::to_chars(code, code + sizeof code, cc.code);
      Sample(f.target_requests, "gatehouse_target_requests_total")
          .escaped_label("endpoint", id)
          .label("target", target)
          .label("code", std::string_view(code, static_cast<std::size_t>(end - code)))
          .value(cc.count);
    }
  }
}

// Endpoints with retries: every reason from the first scrape, at 0 until it happens.
void write_retries(Families& f, std::string_view id, const metrics::EndpointTotals& t) {
  for (std::size_t r = 0; r < metrics::kRetryReasons.size(); ++r)
    Sample(f.retries, "gatehouse_retries_total")
        .escaped_label("endpoint", id)
        .label("reason", metrics::kRetryReasons[r])
        .value(t.retries[r]);
  Sample(f.budget_exhausted, "gatehouse_retry_budget_exhausted_total")
      .escaped_label("endpoint", id)
      .value(t.retry_budget_exhausted);
}

static_assert(static_cast<std::size_t>(health::BreakerState::closed) == 0 &&
                  static_cast<std::size_t>(health::BreakerState::open) == 1 &&
                  static_cast<std::size_t>(health::BreakerState::half_open) == 2,
              "kBreakerStateLabels follows health::BreakerState");

// TLS termination: handshakes always (a series must exist at 0 before it moves), the
// expiry of each certificate the listener serves.
void write_tls(std::string& out, const registry::Snapshot& snap, const metrics::Registry& reg) {
  append_family_header(out, "gatehouse_tls_handshakes_total", "counter",
                       "TLS handshakes on the listener by result.");
  Sample(out, "gatehouse_tls_handshakes_total").label("result", "ok").value(reg.tls_handshakes(true));
  Sample(out, "gatehouse_tls_handshakes_total").label("result", "failed").value(reg.tls_handshakes(false));
  if (!snap.tls) return;
  append_family_header(out, "gatehouse_tls_certificate_expiry_timestamp_seconds", "gauge",
                       "Unix time at which each listener certificate (by cert_file) expires.");
  for (const auto& c : snap.tls->certificates())
    Sample(out, "gatehouse_tls_certificate_expiry_timestamp_seconds")
        .label("certificate", c.file)
        .value(static_cast<double>(c.not_after));
}

}  // namespace

std::string render_metrics(const registry::Snapshot& snap, const metrics::Registry& reg,
                           const ProcessMetrics& process) {
  Families f;
  metrics::EndpointTotals totals;
  std::string labels;
  std::string escaped;
  {
    // Upper bounds, so no buffer grows (each growth copies and faults in fresh pages);
    // what is reserved and never written is never touched, so costs no memory.
    std::size_t n = 1, ids = 0;
    for (const auto& ep : snap.endpoints) {
      ++n;
      ids += ep.metrics ? ep.metrics->escaped_id().size() : ep.config->id.size() * 2;
    }
    const auto lines = [&](std::size_t per_endpoint, std::size_t width) {
      return per_endpoint * (n * width + ids);
    };
    constexpr std::size_t kHistogramLines = metrics::kBuckets + 2;
    f.requests.reserve(lines(4, 80));
    f.duration.reserve(lines(kHistogramLines, 70));
    f.upstream.reserve(lines(kHistogramLines, 70));
    f.errors.reserve(lines(2, 70));
    f.up.reserve(lines(1, 40));
    f.enabled.reserve(lines(1, 45));
    f.state.reserve(lines(3, 65));
    f.transitions.reserve(lines(2, 90));
    f.fallbacks.reserve(lines(1, 70));
    f.health_checks.reserve(lines(2, 70));
    f.tunnels_open.reserve(lines(1, 50));
    f.tunnels_total.reserve(lines(1, 50));
  }

  reg.unmatched().merge_into(totals);
  write_traffic(f, "", totals, labels);
  for (const auto& ep : snap.endpoints) {
    std::string_view id;
    if (ep.metrics) {
      id = ep.metrics->escaped_id();
      ep.metrics->merge_into(totals);
      write_traffic(f, id, totals, labels);
      // Every endpoint's series from its first scrape, at 0 until a tunnel opens.
      Sample(f.tunnels_open, "gatehouse_websocket_tunnels_open")
          .escaped_label("endpoint", id)
          .value(ep.metrics->tunnels_open());
      Sample(f.tunnels_total, "gatehouse_websocket_tunnels_total")
          .escaped_label("endpoint", id)
          .value(ep.metrics->tunnels_total());
    } else {
      escaped = metrics::escape_label_value(ep.config->id);
      id = escaped;
    }
    write_state(f, id, ep);
    if (ep.retry && ep.retry->enabled() && ep.state()) {
      if (!ep.metrics) totals.clear();
      write_retries(f, id, totals);
    }
    // Every rate-limited endpoint from its first scrape, at 0 until it refuses one.
    if (ep.config->rate_limit) {
      const auto n = ep.metrics ? totals.errors[static_cast<std::size_t>(ErrorCode::rate_limited)] : 0;
      Sample(f.rate_limited, "gatehouse_rate_limited_total").escaped_label("endpoint", id).value(n);
    }
  }

  std::string out;
  out.reserve(4096 + f.requests.size() + f.duration.size() + f.upstream.size() + f.errors.size() +
              f.up.size() + f.enabled.size() + f.state.size() + f.transitions.size() +
              f.fallbacks.size() + f.health_checks.size() + f.tunnels_open.size() +
              f.tunnels_total.size() + f.rate_limited.size());
  append_family_header(out, "gatehouse_build_info", "gauge",
                       "Build information: the value is 1, the version is a label.");
  Sample(out, "gatehouse_build_info").label("version", process.version).value(1);
  append_family_header(out, "gatehouse_connections_open", "gauge",
                       "Downstream connections currently open.");
  Sample(out, "gatehouse_connections_open").value(process.connections_open);
  append_family_header(out, "gatehouse_config_reloads_total", "counter",
                       "Config reloads by result (API, SIGHUP and file watch; unchanged counts as success).");
  Sample(out, "gatehouse_config_reloads_total").label("result", "success").value(reg.reloads(true));
  Sample(out, "gatehouse_config_reloads_total").label("result", "failure").value(reg.reloads(false));
  append_family_header(out, "gatehouse_config_last_reload_success_timestamp_seconds", "gauge",
                       "Unix time of the last successful config load or reload.");
  if (const auto ts = reg.last_success_seconds())
    Sample(out, "gatehouse_config_last_reload_success_timestamp_seconds").value(*ts);

  const auto family = [&out](std::string_view name, std::string_view type, std::string_view help,
                             const std::string& samples) {
    append_family_header(out, name, type, help);
    out.append(samples);
  };
  family("gatehouse_requests_total", "counter",
         "Downstream requests by endpoint id (\"\" = matched none), method and status code.",
         f.requests);
  family("gatehouse_request_duration_seconds", "histogram",
         "Whole downstream request duration, as in the access log.", f.duration);
  family("gatehouse_upstream_duration_seconds", "histogram",
         "Upstream exchange duration, for requests that were forwarded.", f.upstream);
  family("gatehouse_errors_total", "counter",
         "Errors the gateway itself answered, by problem code.", f.errors);
  family("gatehouse_endpoint_up", "gauge",
         "1 when health is up, or unknown with the breaker not open; else 0.", f.up);
  family("gatehouse_endpoint_enabled", "gauge", "1 for enabled endpoints, 0 for disabled ones.",
         f.enabled);
  family("gatehouse_circuit_breaker_state", "gauge",
         "Circuit breaker state: 1 for the current state.", f.state);
  family("gatehouse_circuit_breaker_transitions_total", "counter",
         "Circuit breaker transitions by from and to state.", f.transitions);
  family("gatehouse_fallbacks_total", "counter",
         "Requests answered by a fallback, by the strategy that answered.", f.fallbacks);
  family("gatehouse_health_checks_total", "counter", "Active health checks by result.",
         f.health_checks);
  family("gatehouse_rate_limited_total", "counter",
         "Requests refused with 429 by the endpoint's rate limit.", f.rate_limited);
  family("gatehouse_target_up", "gauge",
         "Per server of an endpoint: 1 when its health is up, or unknown with its breaker not open; else 0.",
         f.target_up);
  family("gatehouse_target_requests_total", "counter",
         "Tries sent to each server of an endpoint, by status code (502/504 for a try without a response).",
         f.target_requests);
  family("gatehouse_retries_total", "counter",
         "Retries of failed tries, by the failure that caused them.", f.retries);
  family("gatehouse_retry_budget_exhausted_total", "counter",
         "Failed tries not retried because the endpoint's retry budget was used up.",
         f.budget_exhausted);
  append_family_header(out, "gatehouse_redis_errors_total", "counter",
                       "Redis calls of shared rate limits that failed, by kind.");
  for (std::size_t k = 0; k < metrics::kRedisErrorKinds.size(); ++k)
    Sample(out, "gatehouse_redis_errors_total")
        .label("kind", metrics::kRedisErrorKinds[k])
        .value(reg.redis_errors(k));
  family("gatehouse_websocket_tunnels_open", "gauge", "WebSocket tunnels open now.",
         f.tunnels_open);
  family("gatehouse_websocket_tunnels_total", "counter",
         "WebSocket tunnels opened (101 answers relayed).", f.tunnels_total);
  write_tls(out, snap, reg);
  return out;
}

Reply metrics_reply(const registry::Snapshot& snap, const metrics::Registry& reg,
                    const ProcessMetrics& process) {
  Reply r;
  r.status = 200;
  r.content_type = std::string(kMetricsContentType);
  r.body = render_metrics(snap, reg, process);
  return r;
}

}  // namespace gatehouse::admin
