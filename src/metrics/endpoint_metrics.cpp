#include "metrics/endpoint_metrics.hpp"

#include <algorithm>

#include "metrics/exposition.hpp"

namespace gatehouse::metrics {

namespace {

constexpr std::array<std::string_view, kFallbacks> kFallbackLabels = {"error", "cached",
                                                                      "default"};

// Single writer: a relaxed load and store, never a locked read-modify-write.
inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t by = 1) {
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

}  // namespace

std::string_view fallback_label(Fallback f) { return kFallbackLabels[static_cast<std::size_t>(f)]; }

std::uint64_t HistogramTotals::count() const {
  std::uint64_t n = 0;
  for (const auto b : buckets) n += b;
  return n;
}

void EndpointTotals::clear() {
  requests.clear();
  duration = {};
  upstream = {};
  errors = {};
  fallbacks = {};
  transitions = {};
  health_checks = {};
  retries = {};
  retry_budget_exhausted = 0;
}

EndpointMetrics::EndpointMetrics(std::string id, unsigned shards)
    : id_(std::move(id)),
      escaped_id_(escape_label_value(id_)),
      shard_count_(shards),
      shards_(std::make_unique<std::atomic<Shard*>[]>(shards)) {
  for (unsigned i = 0; i < shards; ++i) shards_[i].store(nullptr, std::memory_order_relaxed);
}

EndpointMetrics::~EndpointMetrics() {
  for (unsigned i = 0; i < shard_count_; ++i) delete shards_[i].load(std::memory_order_acquire);
}

EndpointMetrics::Shard& EndpointMetrics::own_shard(unsigned shard) {
  Shard* s = shards_[shard].load(std::memory_order_relaxed);  // only this thread stores it
  if (!s) {
    s = new Shard();
    shards_[shard].store(s, std::memory_order_release);  // readers see it initialised
  }
  return *s;
}

void EndpointMetrics::record(unsigned shard, const RequestSample& sample) {
  if (shard >= shard_count_) return;  // not a worker thread: nothing of ours to write
  Shard& s = own_shard(shard);
  count_request(s, request_key(sample.method, sample.status));
  observe(s.duration, sample.duration_ns);
  if (sample.upstream_ns >= 0) observe(s.upstream, sample.upstream_ns);
  if (sample.error) bump(s.errors[static_cast<std::size_t>(*sample.error) % kErrorCodes]);
  if (sample.fallback) bump(s.fallbacks[static_cast<std::size_t>(*sample.fallback)]);
}

void EndpointMetrics::count_request(Shard& s, std::uint32_t key) {
  constexpr std::uint32_t mask = kSlots - 1;
  static_assert((kSlots & mask) == 0, "kSlots is a power of two");
  std::uint32_t i = (key * 0x9E3779B1u) >> 28 & mask;
  for (std::size_t n = 0; n < kSlots; ++n, i = (i + 1) & mask) {
    Slot& slot = s.slots[i];
    const std::uint32_t k = slot.key.load(std::memory_order_relaxed);
    if (k == key) {
      bump(slot.count);
      return;
    }
    if (k == 0) {
      slot.count.store(1, std::memory_order_relaxed);
      slot.key.store(key, std::memory_order_release);  // a reader that sees the key sees 1
      return;
    }
  }
  std::lock_guard lock(overflow_mutex_);
  for (auto& [k, count] : overflow_) {
    if (k == key) {
      ++count;
      return;
    }
  }
  overflow_.emplace_back(key, 1);
}

void EndpointMetrics::observe(Cells& c, std::int64_t ns) {
  if (ns < 0) ns = 0;
  bump(c.buckets[bucket_of(ns)]);
  bump(c.sum_ns, static_cast<std::uint64_t>(ns));
}

void EndpointMetrics::count_transition(std::size_t from, std::size_t to) {
  if (from >= kBreakerStates || to >= kBreakerStates) return;
  transitions_[from][to].fetch_add(1, std::memory_order_relaxed);
}

void EndpointMetrics::count_health_check(bool success) {
  health_checks_[success ? 0 : 1].fetch_add(1, std::memory_order_relaxed);
}

void EndpointMetrics::count_retry(std::string_view reason) {
  for (std::size_t i = 0; i < kRetryReasons.size(); ++i)
    if (kRetryReasons[i] == reason) {
      retries_[i].fetch_add(1, std::memory_order_relaxed);
      return;
    }
}

void EndpointMetrics::count_budget_exhausted() {
  retry_budget_exhausted_.fetch_add(1, std::memory_order_relaxed);
}

void EndpointMetrics::merge_cells(const Cells& c, HistogramTotals& out) {
  for (std::size_t i = 0; i < kBuckets; ++i)
    out.buckets[i] += c.buckets[i].load(std::memory_order_relaxed);
  out.sum_ns += c.sum_ns.load(std::memory_order_relaxed);
}

void EndpointMetrics::merge_into(EndpointTotals& out) const {
  out.clear();
  auto add_request = [&out](std::uint32_t key, std::uint64_t count) {
    for (auto& [k, c] : out.requests) {
      if (k == key) {
        c += count;
        return;
      }
    }
    out.requests.emplace_back(key, count);
  };
  for (unsigned i = 0; i < shard_count_; ++i) {
    const Shard* s = shards_[i].load(std::memory_order_acquire);
    if (!s) continue;
    for (const Slot& slot : s->slots) {
      const std::uint32_t key = slot.key.load(std::memory_order_acquire);
      if (key != 0) add_request(key, slot.count.load(std::memory_order_relaxed));
    }
    merge_cells(s->duration, out.duration);
    merge_cells(s->upstream, out.upstream);
    for (std::size_t e = 0; e < kErrorCodes; ++e)
      out.errors[e] += s->errors[e].load(std::memory_order_relaxed);
    for (std::size_t f = 0; f < kFallbacks; ++f)
      out.fallbacks[f] += s->fallbacks[f].load(std::memory_order_relaxed);
  }
  {
    std::lock_guard lock(overflow_mutex_);
    for (const auto& [key, count] : overflow_) add_request(key, count);
  }
  std::sort(out.requests.begin(), out.requests.end());
  for (std::size_t f = 0; f < kBreakerStates; ++f)
    for (std::size_t t = 0; t < kBreakerStates; ++t)
      out.transitions[f][t] = transitions_[f][t].load(std::memory_order_relaxed);
  out.health_checks[0] = health_checks_[0].load(std::memory_order_relaxed);
  out.health_checks[1] = health_checks_[1].load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kRetryReasons.size(); ++i)
    out.retries[i] = retries_[i].load(std::memory_order_relaxed);
  out.retry_budget_exhausted = retry_budget_exhausted_.load(std::memory_order_relaxed);
}

unsigned EndpointMetrics::allocated_shards() const {
  unsigned n = 0;
  for (unsigned i = 0; i < shard_count_; ++i)
    if (shards_[i].load(std::memory_order_acquire)) ++n;
  return n;
}

std::size_t EndpointMetrics::overflow_entries() const {
  std::lock_guard lock(overflow_mutex_);
  return overflow_.size();
}

}  // namespace gatehouse::metrics
