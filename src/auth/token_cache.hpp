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
    std::size_t hash;
    std::shared_ptr<const VerifiedToken> value;
  };
  // A token with its hash, worked out once per call: it picks the shard and the bucket.
  struct Key {
    std::string_view text;  // a view into lru (stored keys) or the caller's token
    std::size_t hash;
    bool operator==(const Key& o) const { return hash == o.hash && text == o.text; }
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept { return k.hash; }
  };
  struct Shard {
    mutable std::mutex mu;
    std::list<Entry> lru;  // front = most recently used
    std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index;
    std::size_t bytes = 0;
  };
  static Key key_of(std::string_view token);
  Shard& shard_for(const Key& key);

  std::vector<std::unique_ptr<Shard>> shards_;
  std::size_t per_shard_;
  std::size_t max_bytes_per_shard_;
};

}  // namespace gatehouse::auth
