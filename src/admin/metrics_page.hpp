// admin/: GET /metrics: every metric of SPEC section 10 in the Prometheus text format.
#pragma once

#include <cstdint>
#include <string>

#include "admin/admin.hpp"
#include "metrics/registry.hpp"
#include "registry/snapshot.hpp"

namespace gatehouse::admin {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// What the process knows that no endpoint does.
struct ProcessMetrics {
  std::int64_t connections_open = 0;
  std::string_view version;  // gatehouse_build_info
};

// The whole scrape, one string. Endpoint series follow the live table `snap`: an
// endpoint removed by a reload is gone, one that is kept keeps its counters.
std::string render_metrics(const registry::Snapshot& snap, const metrics::Registry& reg,
                           const ProcessMetrics& process);
Reply metrics_reply(const registry::Snapshot& snap, const metrics::Registry& reg,
                    const ProcessMetrics& process);

}  // namespace gatehouse::admin
