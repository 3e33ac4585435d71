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

TokenCache::Shard& TokenCache::shard_for(std::string_view token) {
  // Mix the hash: unordered_map uses the low bits of the same value for buckets.
  const std::size_t h = std::hash<std::string_view>{}(token);
  return *shards_[(h ^ (h >> 29)) * 0x9E3779B97F4A7C15ull % shards_.size()];
}

std::shared_ptr<const VerifiedToken> TokenCache::find(std::string_view token) {
  if (per_shard_ == 0) return nullptr;
  Shard& s = shard_for(token);
  std::lock_guard lock(s.mu);
  const auto it = s.index.find(token);
  if (it == s.index.end()) return nullptr;
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  return it->second->value;
}

void TokenCache::insert(std::string_view token, std::shared_ptr<const VerifiedToken> value) {
  if (per_shard_ == 0 || token.size() > max_bytes_per_shard_) return;
  Shard& s = shard_for(token);
  std::lock_guard lock(s.mu);
  if (const auto it = s.index.find(token); it != s.index.end()) {
    it->second->value = std::move(value);
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    return;
  }
  s.lru.push_front(Entry{std::string(token), std::move(value)});
  s.index.emplace(std::string_view(s.lru.front().token), s.lru.begin());
  s.bytes += token.size();
  while (s.index.size() > per_shard_ || s.bytes > max_bytes_per_shard_) {
    const Entry& victim = s.lru.back();
    s.bytes -= victim.token.size();
    s.index.erase(std::string_view(victim.token));
    s.lru.pop_back();
  }
}

void TokenCache::erase(std::string_view token) {
  Shard& s = shard_for(token);
  std::lock_guard lock(s.mu);
  const auto it = s.index.find(token);
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
