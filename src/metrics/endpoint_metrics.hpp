// metrics/: the counters and histograms of one endpoint id (or of requests that matched
// none), in per-thread shards: each worker thread owns one shard and is its only writer
// (relaxed load + store, no read-modify-write, no shared cache line); a scrape sums the
// shards with relaxed loads. A shard is allocated by its thread on first use, so an
// endpoint that a thread never serves costs one null pointer there.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/problem.hpp"
#include "metrics/histogram.hpp"
#include "metrics/method.hpp"

namespace gatehouse::metrics {

// Every ErrorCode (invalid_config is the last enumerator).
inline constexpr std::size_t kErrorCodes = static_cast<std::size_t>(ErrorCode::invalid_config) + 1;

enum class Fallback : std::uint8_t { error, cached, deflt };
inline constexpr std::size_t kFallbacks = 3;
std::string_view fallback_label(Fallback f);  // "error" | "cached" | "default"

// Breaker states in health::BreakerState order.
inline constexpr std::size_t kBreakerStates = 3;
inline constexpr std::array<std::string_view, kBreakerStates> kBreakerStateLabels = {
    "closed", "open", "half_open"};

// The `reason` label of gatehouse_retries_total: the names of `retries.on`.
inline constexpr std::array<std::string_view, 6> kRetryReasons = {
    "connect_failure", "reset", "timeout", "502", "503", "504"};

// What one finished downstream request contributes.
struct RequestSample {
  Method method = Method::other;
  int status = 0;                      // as sent to the client
  std::int64_t duration_ns = 0;        // whole downstream request
  std::int64_t upstream_ns = -1;       // upstream exchange; < 0 when none took place
  std::optional<ErrorCode> error;      // the gateway-made error it was answered with
  std::optional<Fallback> fallback;    // the fallback that answered it
};

struct HistogramTotals {
  std::array<std::uint64_t, kBuckets> buckets{};  // non-cumulative, last = +Inf
  std::uint64_t sum_ns = 0;
  std::uint64_t count() const;
};

// The shards summed; what a scrape writes.
struct EndpointTotals {
  // (key, count), sorted by key; see request_key().
  std::vector<std::pair<std::uint32_t, std::uint64_t>> requests;
  HistogramTotals duration;
  HistogramTotals upstream;
  std::array<std::uint64_t, kErrorCodes> errors{};
  std::array<std::uint64_t, kFallbacks> fallbacks{};
  std::array<std::array<std::uint64_t, kBreakerStates>, kBreakerStates> transitions{};  // [from][to]
  std::array<std::uint64_t, 2> health_checks{};  // [success, failure]
  std::array<std::uint64_t, kRetryReasons.size()> retries{};  // by kRetryReasons
  std::uint64_t retry_budget_exhausted = 0;
  void clear();
};

// (method, status) packed into the request table's key; 0 is never a key.
constexpr std::uint32_t request_key(Method m, int status) {
  const auto code = static_cast<std::uint32_t>(status < 0 ? 0 : status > 0xffff ? 0xffff : status);
  return (static_cast<std::uint32_t>(m) + 1) << 16 | code;
}
constexpr Method key_method(std::uint32_t key) { return static_cast<Method>((key >> 16) - 1); }
constexpr int key_status(std::uint32_t key) { return static_cast<int>(key & 0xffff); }

class EndpointMetrics {
 public:
  // Distinct (method, status) pairs a shard counts without a lock; more go to a shared,
  // locked overflow list (a thread seeing over 16 pairs for one endpoint is rare).
  static constexpr std::size_t kSlots = 16;

  EndpointMetrics(std::string id, unsigned shards);
  ~EndpointMetrics();
  EndpointMetrics(const EndpointMetrics&) = delete;
  EndpointMetrics& operator=(const EndpointMetrics&) = delete;

  const std::string& id() const { return id_; }
  const std::string& escaped_id() const { return escaped_id_; }  // for label values

  // Request path: called by the thread that owns `shard` only (shard < shards()).
  void record(unsigned shard, const RequestSample& s);

  // WebSocket tunnels (any thread; one pair of calls per tunnel, not per byte).
  void tunnel_opened() {
    tunnels_open_.fetch_add(1, std::memory_order_relaxed);
    tunnels_total_.fetch_add(1, std::memory_order_relaxed);
  }
  void tunnel_closed() { tunnels_open_.fetch_sub(1, std::memory_order_relaxed); }
  std::int64_t tunnels_open() const { return tunnels_open_.load(std::memory_order_relaxed); }
  std::uint64_t tunnels_total() const { return tunnels_total_.load(std::memory_order_relaxed); }

  // Rare events from any thread (breaker transitions, health probes).
  void count_transition(std::size_t from, std::size_t to);
  void count_health_check(bool success);
  // A retry made, by its reason (one of kRetryReasons; others are not counted), and a
  // retry refused by the budget. Rare (failures only): shared atomics.
  void count_retry(std::string_view reason);
  void count_budget_exhausted();

  // Sums every shard into `out` (cleared first). Any thread, concurrently with writers.
  void merge_into(EndpointTotals& out) const;

  unsigned shards() const { return shard_count_; }
  // Shards allocated so far (tests, and memory accounting).
  unsigned allocated_shards() const;
  std::size_t overflow_entries() const;

 private:
  struct Cells {
    std::array<std::atomic<std::uint64_t>, kBuckets> buckets{};
    std::atomic<std::uint64_t> sum_ns{0};
  };
  struct Slot {
    std::atomic<std::uint32_t> key{0};
    std::atomic<std::uint64_t> count{0};
  };
  struct alignas(64) Shard {
    std::array<Slot, kSlots> slots{};
    Cells duration;
    Cells upstream;
    std::array<std::atomic<std::uint64_t>, kErrorCodes> errors{};
    std::array<std::atomic<std::uint64_t>, kFallbacks> fallbacks{};
  };

  Shard& own_shard(unsigned shard);
  void count_request(Shard& s, std::uint32_t key);
  static void observe(Cells& c, std::int64_t ns);
  static void merge_cells(const Cells& c, HistogramTotals& out);

  const std::string id_;
  const std::string escaped_id_;
  const unsigned shard_count_;
  const std::unique_ptr<std::atomic<Shard*>[]> shards_;
  mutable std::mutex overflow_mutex_;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> overflow_;
  std::array<std::array<std::atomic<std::uint64_t>, kBreakerStates>, kBreakerStates> transitions_{};
  std::array<std::atomic<std::uint64_t>, 2> health_checks_{};
  std::atomic<std::int64_t> tunnels_open_{0};
  std::atomic<std::uint64_t> tunnels_total_{0};
  std::array<std::atomic<std::uint64_t>, kRetryReasons.size()> retries_{};
  std::atomic<std::uint64_t> retry_budget_exhausted_{0};
};

}  // namespace gatehouse::metrics
