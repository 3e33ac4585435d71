// ratelimit/: the process-wide buckets of one endpoint, shared by every worker thread.
// A set-associative table of fixed-size slots: a key's digest picks one set of kWays
// slots, and only that set is searched. Taking a token is lock-free (the slot's state is
// one atomic word updated by compare-and-swap); the shard mutex is taken only to put a
// new key into a slot. At most `max_keys` keys are held: a new key in a full set
// replaces an idle full bucket first (it would start full anyway, so nothing is lost),
// else the set's least recently used one.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include "ratelimit/bucket.hpp"
#include "ratelimit/key_hash.hpp"

namespace gatehouse::ratelimit {

class BucketTable {
 public:
  static constexpr std::size_t kWays = 8;
  static constexpr std::size_t kDefaultMaxKeys = 100'000;

  explicit BucketTable(std::size_t max_keys = kDefaultMaxKeys, HashKey hash_key = HashKey::random());
  ~BucketTable();
  BucketTable(const BucketTable&) = delete;
  BucketTable& operator=(const BucketTable&) = delete;

  // Takes one token from `key`'s bucket at `now` (nanoseconds, >= 0).
  Decision take(std::string_view key, const BucketParams& p, std::int64_t now);

  // Whether `key` still has a bucket (tests), and how many keys are held.
  bool holds(std::string_view key) const;
  std::size_t size() const { return live_.load(std::memory_order_relaxed); }
  std::size_t capacity() const { return sets_ * kWays; }

 private:
  struct Slot {
    std::atomic<std::uint64_t> hi{0};  // digest; 0 = empty
    std::atomic<std::uint64_t> lo{0};
    std::atomic<std::int64_t> tat{0};
    std::atomic<std::int64_t> used{0};  // last access, for the LRU choice
  };
  struct Set {
    std::array<Slot, kWays> ways;
  };
  static constexpr std::size_t kMaxChunks = 256;
  static constexpr std::size_t kShards = 64;

  std::size_t set_of(const KeyDigest& d) const;
  Slot* find(const KeyDigest& d, std::size_t set) const;
  Slot* insert(const KeyDigest& d, std::size_t set, std::int64_t now);
  static Decision take_from(Slot& slot, const BucketParams& p, std::int64_t now);

  const HashKey hash_key_;
  const std::size_t sets_;
  const std::size_t sets_per_chunk_;
  std::unique_ptr<std::atomic<Set*>[]> chunks_;  // allocated on first insert, freed at the end
  std::array<std::mutex, kShards> shard_mutex_;
  std::atomic<std::size_t> live_{0};
};

}  // namespace gatehouse::ratelimit
