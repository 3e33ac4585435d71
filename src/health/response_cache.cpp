#include "health/response_cache.hpp"

namespace gatehouse::health {

ResponseCache::ResponseCache(const config::Cache& limits, const Clock& clock)
    : clock_(clock), limits_(limits) {}

std::string ResponseCache::key(std::string_view method, std::string_view path,
                               std::string_view query) {
  std::string k;
  k.reserve(method.size() + path.size() + query.size() + 2);
  k.append(method).append(" ").append(path);
  if (!query.empty()) k.append("?").append(query);
  return k;
}

std::uint64_t ResponseCache::max_entry_bytes() const {
  std::lock_guard lock(mutex_);
  return limits_.max_bytes / 8;
}

bool ResponseCache::store(std::string_view method, std::string_view path, std::string_view query,
                          CachedResponse response) {
  std::string k = key(method, path, query);
  std::size_t bytes = k.size() + response.body.size();
  for (const auto& [name, value] : response.headers) bytes += name.size() + value.size();
  response.bytes = bytes;
  response.stored_at = clock_.steady_now();

  std::lock_guard lock(mutex_);
  if (bytes > limits_.max_bytes / 8 || limits_.max_entries == 0 || limits_.ttl.count() <= 0) {
    // Too large to keep: a stale smaller answer for the same key must not outlive it.
    if (auto it = index_.find(k); it != index_.end()) erase_locked(it->second);
    return false;
  }
  if (auto it = index_.find(k); it != index_.end()) erase_locked(it->second);
  lru_.push_front(Node{std::move(k), std::make_shared<const CachedResponse>(std::move(response))});
  index_.emplace(lru_.front().key, lru_.begin());
  bytes_ += bytes;
  evict_locked();
  return true;
}

std::optional<CacheHit> ResponseCache::lookup(std::string_view method, std::string_view path,
                                              std::string_view query,
                                              bool request_has_credentials) {
  const std::string k = key(method, path, query);
  const auto now = clock_.steady_now();
  std::lock_guard lock(mutex_);
  const auto it = index_.find(k);
  if (it == index_.end()) return std::nullopt;
  const auto& response = it->second->response;
  const auto age = now - response->stored_at;
  if (age >= limits_.ttl) {
    erase_locked(it->second);
    return std::nullopt;
  }
  if (request_has_credentials && !response->is_public) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  const auto age_s = std::chrono::duration_cast<std::chrono::seconds>(age).count();
  return CacheHit{response, static_cast<std::uint64_t>(age_s < 0 ? 0 : age_s)};
}

void ResponseCache::erase(std::string_view method, std::string_view path, std::string_view query) {
  const std::string k = key(method, path, query);
  std::lock_guard lock(mutex_);
  if (auto it = index_.find(k); it != index_.end()) erase_locked(it->second);
}

void ResponseCache::set_limits(const config::Cache& limits) {
  std::lock_guard lock(mutex_);
  limits_ = limits;
  // Entries now above the per-entry bound go too.
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->response->bytes > limits_.max_bytes / 8) erase_locked(it);
    it = next;
  }
  evict_locked();
}

void ResponseCache::clear() {
  std::lock_guard lock(mutex_);
  index_.clear();
  lru_.clear();
  bytes_ = 0;
}

std::size_t ResponseCache::entries() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

std::uint64_t ResponseCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

void ResponseCache::evict_locked() {
  while (!lru_.empty() && (lru_.size() > limits_.max_entries || bytes_ > limits_.max_bytes))
    erase_locked(std::prev(lru_.end()));
}

void ResponseCache::erase_locked(std::list<Node>::iterator it) {
  bytes_ -= it->response->bytes;
  index_.erase(std::string_view(it->key));
  lru_.erase(it);
}

}  // namespace gatehouse::health
