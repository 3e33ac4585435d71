// auth/: verified tokens, keyed on the whole token string, so a repeat costs a hash
// lookup instead of a signature check. Bounded (entries and bytes), LRU per shard,
// sharded mutexes for the event-loop threads. Only tokens that passed every check go
// in, so an unauthenticated client cannot fill it; callers re-check exp/nbf per hit.
#pragma once

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gatehouse::auth {

struct VerifiedToken;

class TokenCache {
 public:
  static constexpr std::size_t kDefaultCapacity = 10000;
  static constexpr std::size_t kDefaultMaxBytes = 32 * 1024 * 1024;
  static constexpr std::size_t kDefaultShards = 16;

  explicit TokenCache(std::size_t capacity = kDefaultCapacity,
                      std::size_t max_bytes = kDefaultMaxBytes,
                      std::size_t shards = kDefaultShards);

  std::shared_ptr<const VerifiedToken> find(std::string_view token);
  void insert(std::string_view token, std::shared_ptr<const VerifiedToken> value);
  void erase(std::string_view token);
  void clear();
  std::size_t size() const;
  std::size_t capacity() const { return per_shard_ * shards_.size(); }

 private:
  struct Entry {
    std::string token;
    std::shared_ptr<const VerifiedToken> value;
  };
  struct Shard {
    mutable std::mutex mu;
    std::list<Entry> lru;  // front = most recently used
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index;  // views into lru
    std::size_t bytes = 0;
  };
  Shard& shard_for(std::string_view token);

  std::vector<std::unique_ptr<Shard>> shards_;
  std::size_t per_shard_;
  std::size_t max_bytes_per_shard_;
};

}  // namespace gatehouse::auth
