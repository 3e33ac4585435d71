// health/: the per-endpoint store behind the `cached` fallback: the last 2xx response
// to each method + path + query, bounded by ttl, max_entries and max_bytes (LRU).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.hpp"
#include "config/config.hpp"

namespace gatehouse::health {

struct CachedResponse {
  int status = 200;
  // End-to-end fields as the upstream sent them; the caller leaves out hop-by-hop
  // fields, and adds Age and X-Gatehouse-Fallback when serving.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;        // empty for HEAD
  bool is_public = false;  // Cache-Control: public -> may serve requests with credentials
  Clock::SteadyTime stored_at{};
  std::size_t bytes = 0;  // what the entry counts against max_bytes
};

struct CacheHit {
  std::shared_ptr<const CachedResponse> response;  // stays valid after eviction
  std::uint64_t age_s = 0;                         // whole seconds since stored (Age)
};

// Thread-safe behind one mutex: stores happen on storable 2xx responses only and
// lookups only while the breaker refuses traffic, so it is off the common path.
// The caller decides storability with storable() (cache_rules.hpp) first.
class ResponseCache {
 public:
  ResponseCache(const config::Cache& limits, const Clock& clock);

  static std::string key(std::string_view method, std::string_view path, std::string_view query);

  // Entries above this are not stored (max_bytes / 8). Check before copying a body.
  std::uint64_t max_entry_bytes() const;

  // Stores or replaces the entry; false (nothing stored) when it is larger than
  // max_entry_bytes(). Evicts least recently used entries to stay within bounds.
  bool store(std::string_view method, std::string_view path, std::string_view query,
             CachedResponse response);

  // The entry for this request if it is younger than ttl and, for a request with
  // Authorization or Cookie, was marked public. A hit becomes most recently used.
  std::optional<CacheHit> lookup(std::string_view method, std::string_view path,
                                 std::string_view query, bool request_has_credentials);

  // Drops the entry for this request (e.g. its newest 2xx answer was not storable, so
  // the older one is no longer "the last successful response").
  void erase(std::string_view method, std::string_view path, std::string_view query);

  // New bounds after a reload; evicts what no longer fits.
  void set_limits(const config::Cache& limits);
  void clear();
  std::size_t entries() const;
  std::uint64_t bytes() const;

 private:
  struct Node {
    std::string key;
    std::shared_ptr<const CachedResponse> response;
  };
  void evict_locked();
  void erase_locked(std::list<Node>::iterator it);

  const Clock& clock_;
  mutable std::mutex mutex_;
  config::Cache limits_;
  std::list<Node> lru_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Node>::iterator> index_;  // views into Node::key
  std::uint64_t bytes_ = 0;
};

}  // namespace gatehouse::health
