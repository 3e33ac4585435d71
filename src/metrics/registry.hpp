// metrics/: the process-wide metrics registry: per-endpoint metrics keyed by endpoint id
// (so they survive reloads that keep the id), the metrics of requests that matched no
// endpoint, and the process-level counters (reloads).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics/endpoint_metrics.hpp"

namespace gatehouse::metrics {

class Registry {
 public:
  // `shards`: one per worker thread; a worker records with its index.
  explicit Registry(unsigned shards);
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  unsigned shards() const { return shards_; }

  // The metrics of endpoint `id`, created on first use (config load and reloads only).
  std::shared_ptr<EndpointMetrics> endpoint(std::string_view id);
  // Forgets every id not in `ids` (after a reload swapped in a table without them):
  // their series leave the output, and an id that comes back later starts from zero.
  void retain_only(const std::vector<std::string_view>& ids);
  std::size_t size() const;

  // Requests that matched no endpoint (404s, malformed requests, the gateway's own API).
  EndpointMetrics& unmatched() { return unmatched_; }
  const EndpointMetrics& unmatched() const { return unmatched_; }

  // The one recording call of a request: into `m`, or into unmatched() when null.
  void record(EndpointMetrics* m, unsigned shard, const RequestSample& s) {
    (m ? *m : unmatched_).record(shard, s);
  }

  // Reloads (API, SIGHUP, watch): `ok` includes "unchanged". A success, and the first
  // load, set the last-success timestamp.
  void count_reload(bool ok, std::chrono::system_clock::time_point now);
  void loaded(std::chrono::system_clock::time_point now);
  std::uint64_t reloads(bool ok) const;
  // Seconds since the Unix epoch; nullopt before the first load.
  std::optional<double> last_success_seconds() const;

  // Failed Redis calls of shared rate limits, by kind (kRedisErrorKinds order).
  void count_redis_error(std::size_t kind) {
    if (kind < redis_errors_.size()) redis_errors_[kind].fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t redis_errors(std::size_t kind) const {
    return kind < redis_errors_.size() ? redis_errors_[kind].load(std::memory_order_relaxed) : 0;
  }
  // TLS handshakes on the listener (SPEC 12), by result.
  void count_tls_handshake(bool ok) {
    (ok ? tls_ok_ : tls_failed_).fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t tls_handshakes(bool ok) const {
    return (ok ? tls_ok_ : tls_failed_).load(std::memory_order_relaxed);
  }

 private:
  const unsigned shards_;
  EndpointMetrics unmatched_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<EndpointMetrics>> by_id_;
  std::atomic<std::uint64_t> reload_success_{0};
  std::atomic<std::uint64_t> reload_failure_{0};
  std::atomic<std::int64_t> last_success_ns_{0};
  std::array<std::atomic<std::uint64_t>, 3> redis_errors_{};
  std::atomic<std::uint64_t> tls_ok_{0};
  std::atomic<std::uint64_t> tls_failed_{0};
};

// The `kind` label of gatehouse_redis_errors_total.
inline constexpr std::array<std::string_view, 3> kRedisErrorKinds = {"connect", "timeout",
                                                                     "protocol"};

}  // namespace gatehouse::metrics
