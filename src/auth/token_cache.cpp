#include "auth/token_cache.hpp"

#include <algorithm>
#include <functional>

namespace gatehouse::auth {

TokenCache::TokenCache(std::size_t capacity, std::size_t max_bytes, std::size_t shards) {
  const std::size_t n = std::max<std::size_t>(1, std::min(shards, std::max<std::size_t>(capacity, 1)));
  per_shard_ = capacity / n;  // rounding down keeps the total within `capacity`
  max_bytes_per_shard_ = max_bytes / n;
  shards_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) shards_.push_back(std::make_unique<Shard>());
}

// Only verified tokens are stored, and their last bytes are the signature's: a MAC or a
// signature no client can choose without the key. Hashing those and the length picks
// buckets as well as hashing the whole token (the lookup still compares the whole
// token), at a fraction of the cost for tokens of a few hundred bytes. A client sending
// made-up tokens that share a hash only lengthens its own lookup, by the stored tokens
// in that one bucket.
TokenCache::Key TokenCache::key_of(std::string_view token) {
  constexpr std::size_t kTail = 32;
  const std::string_view tail = token.size() > kTail ? token.substr(token.size() - kTail) : token;
  return Key{token, std::hash<std::string_view>{}(tail) ^ (token.size() * 0x9E3779B97F4A7C15ull)};
}

TokenCache::Shard& TokenCache::shard_for(const Key& key) {
  // Mix the hash: unordered_map uses the low bits of the same value for buckets.
  const std::size_t h = key.hash;
  return *shards_[(h ^ (h >> 29)) * 0x9E3779B97F4A7C15ull % shards_.size()];
}

std::shared_ptr<const VerifiedToken> TokenCache::find(std::string_view token) {
  if (per_shard_ == 0) return nullptr;
  const Key key = key_of(token);
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  const auto it = s.index.find(key);
  if (it == s.index.end()) return nullptr;
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  return it->second->value;
}

void TokenCache::insert(std::string_view token, std::shared_ptr<const VerifiedToken> value) {
  if (per_shard_ == 0 || token.size() > max_bytes_per_shard_) return;
  const Key key = key_of(token);
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  if (const auto it = s.index.find(key); it != s.index.end()) {
    it->second->value = std::move(value);
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    return;
  }
  s.lru.push_front(Entry{std::string(token), key.hash, std::move(value)});
  s.index.emplace(Key{s.lru.front().token, key.hash}, s.lru.begin());
  s.bytes += token.size();
  while (s.index.size() > per_shard_ || s.bytes > max_bytes_per_shard_) {
    const Entry& victim = s.lru.back();
    s.bytes -= victim.token.size();
    s.index.erase(Key{victim.token, victim.hash});
    s.lru.pop_back();
  }
}

void TokenCache::erase(std::string_view token) {
  const Key key = key_of(token);
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mu);
  const auto it = s.index.find(key);
  if (it == s.index.end()) return;
  s.bytes -= it->second->token.size();
  const auto node = it->second;
  s.index.erase(it);
  s.lru.erase(node);
}

void TokenCache::clear() {
  for (auto& s : shards_) {
    std::lock_guard lock(s->mu);
    s->index.clear();
    s->lru.clear();
    s->bytes = 0;
  }
}

std::size_t TokenCache::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s->mu);
    n += s->index.size();
  }
  return n;
}

}  // namespace gatehouse::auth
