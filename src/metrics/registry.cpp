#include "metrics/registry.hpp"

#include <unordered_set>

namespace gatehouse::metrics {

Registry::Registry(unsigned shards) : shards_(shards), unmatched_("", shards) {}

std::shared_ptr<EndpointMetrics> Registry::endpoint(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = by_id_.find(std::string(id));
  if (it != by_id_.end()) return it->second;
  auto m = std::make_shared<EndpointMetrics>(std::string(id), shards_);
  by_id_.emplace(std::string(id), m);
  return m;
}

void Registry::retain_only(const std::vector<std::string_view>& ids) {
  const std::unordered_set<std::string_view> keep(ids.begin(), ids.end());
  std::lock_guard lock(mutex_);
  for (auto it = by_id_.begin(); it != by_id_.end();) {
    if (keep.count(it->first)) ++it;
    else it = by_id_.erase(it);
  }
}

std::size_t Registry::size() const {
  std::lock_guard lock(mutex_);
  return by_id_.size();
}

void Registry::count_reload(bool ok, std::chrono::system_clock::time_point now) {
  (ok ? reload_success_ : reload_failure_).fetch_add(1, std::memory_order_relaxed);
  if (ok) loaded(now);
}

void Registry::loaded(std::chrono::system_clock::time_point now) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch());
  last_success_ns_.store(ns.count(), std::memory_order_relaxed);
}

std::uint64_t Registry::reloads(bool ok) const {
  return (ok ? reload_success_ : reload_failure_).load(std::memory_order_relaxed);
}

std::optional<double> Registry::last_success_seconds() const {
  const std::int64_t ns = last_success_ns_.load(std::memory_order_relaxed);
  if (ns == 0) return std::nullopt;
  // Millisecond precision, so the text is short and exact ("1767225600.123").
  return static_cast<double>(ns / 1'000'000) / 1000.0;
}

}  // namespace gatehouse::metrics
