#include "ratelimit/bucket_table.hpp"

#include <algorithm>

namespace gatehouse::ratelimit {

BucketTable::BucketTable(std::size_t max_keys, HashKey hash_key)
    : hash_key_(hash_key),
      sets_(std::max<std::size_t>(1, max_keys / kWays)),
      sets_per_chunk_((sets_ + kMaxChunks - 1) / kMaxChunks),
      chunks_(new std::atomic<Set*>[(sets_ + sets_per_chunk_ - 1) / sets_per_chunk_]) {
  const std::size_t n = (sets_ + sets_per_chunk_ - 1) / sets_per_chunk_;
  for (std::size_t i = 0; i < n; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
}

BucketTable::~BucketTable() {
  const std::size_t n = (sets_ + sets_per_chunk_ - 1) / sets_per_chunk_;
  for (std::size_t i = 0; i < n; ++i) delete[] chunks_[i].load(std::memory_order_relaxed);
}

std::size_t BucketTable::set_of(const KeyDigest& d) const {
  // Multiply-shift on 32 bits: an even spread over any number of sets, no modulo.
  return static_cast<std::size_t>(((d.lo >> 32) * static_cast<std::uint64_t>(sets_)) >> 32);
}

BucketTable::Slot* BucketTable::find(const KeyDigest& d, std::size_t set) const {
  Set* chunk = chunks_[set / sets_per_chunk_].load(std::memory_order_acquire);
  if (!chunk) return nullptr;
  Set& s = chunk[set % sets_per_chunk_];
  for (auto& slot : s.ways) {
    // hi is written last when a slot takes a key (release), so a matching hi means lo
    // is the new key's too.
    if (slot.hi.load(std::memory_order_acquire) == d.hi &&
        slot.lo.load(std::memory_order_relaxed) == d.lo)
      return &slot;
  }
  return nullptr;
}

BucketTable::Slot* BucketTable::insert(const KeyDigest& d, std::size_t set, std::int64_t now) {
  const std::size_t chunk_index = set / sets_per_chunk_;
  std::lock_guard lock(shard_mutex_[chunk_index % kShards]);
  Set* chunk = chunks_[chunk_index].load(std::memory_order_acquire);
  if (!chunk) {
    chunk = new Set[sets_per_chunk_];
    chunks_[chunk_index].store(chunk, std::memory_order_release);
  }
  if (Slot* found = find(d, set)) return found;  // another thread put it in meanwhile
  Set& s = chunk[set % sets_per_chunk_];
  Slot* victim = nullptr;
  bool victim_full = false;
  for (auto& slot : s.ways) {
    if (slot.hi.load(std::memory_order_relaxed) == 0) {
      victim = &slot;
      live_.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    const bool full = is_full(slot.tat.load(std::memory_order_relaxed), now);
    const auto used = slot.used.load(std::memory_order_relaxed);
    if (!victim || (full && !victim_full) ||
        (full == victim_full && used < victim->used.load(std::memory_order_relaxed))) {
      victim = &slot;
      victim_full = full;
    }
  }
  // Readers stop matching the old key first; the new key's state is in place before
  // its hi is published.
  victim->hi.store(0, std::memory_order_release);
  victim->lo.store(d.lo, std::memory_order_relaxed);
  victim->tat.store(0, std::memory_order_relaxed);
  victim->used.store(now, std::memory_order_relaxed);
  victim->hi.store(d.hi, std::memory_order_release);
  return victim;
}

Decision BucketTable::take_from(Slot& slot, const BucketParams& p, std::int64_t now) {
  Decision out;
  std::int64_t tat = slot.tat.load(std::memory_order_acquire);
  for (;;) {
    const std::int64_t next = ratelimit::take(p, tat, now, out);
    if (!out.allowed) break;
    if (slot.tat.compare_exchange_weak(tat, next, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
      break;
  }
  // The LRU stamp moves at most once a millisecond: no extra write on a hot key.
  if (now - slot.used.load(std::memory_order_relaxed) > 1'000'000)
    slot.used.store(now, std::memory_order_relaxed);
  return out;
}

Decision BucketTable::take(std::string_view key, const BucketParams& p, std::int64_t now) {
  const KeyDigest d = digest_of(hash_key_, key);
  const std::size_t set = set_of(d);
  Slot* slot = find(d, set);
  if (!slot) slot = insert(d, set, now);
  return take_from(*slot, p, now);
}

bool BucketTable::holds(std::string_view key) const {
  const KeyDigest d = digest_of(hash_key_, key);
  return find(d, set_of(d)) != nullptr;
}

}  // namespace gatehouse::ratelimit
