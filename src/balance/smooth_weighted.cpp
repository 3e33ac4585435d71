#include "balance/smooth_weighted.hpp"

#include <algorithm>

namespace gatehouse::balance {

SmoothWeighted::SmoothWeighted(std::span<const std::uint32_t> weights, bool restart_on_change)
    : weights_(weights),
      restart_on_change_(restart_on_change),
      storage_(weights.size() + 2 * kPad, 0),
      seen_storage_(weights.size() + 2 * 64, 0) {}

std::size_t SmoothWeighted::pick(const Availability& available) {
  const std::size_t n = weights_.size();
  std::int64_t total = 0;
  std::uint64_t fingerprint = 0xcbf29ce484222325ULL;
  std::uint8_t* seen = this->seen();
  for (std::size_t i = 0; i < n; ++i) {
    const bool ok = available(i);
    seen[i] = ok;
    if (!ok) continue;
    total += weights_[i];
    fingerprint = (fingerprint ^ (i + 1)) * 0x100000001b3ULL;
  }
  if (total == 0) return kNone;
  std::int64_t* cur = current();
  if (restart_on_change_ && (!started_ || fingerprint != fingerprint_)) {
    std::fill(cur, cur + n, 0);
    fingerprint_ = fingerprint;
    started_ = true;
  }
  std::size_t best = kNone;
  for (std::size_t i = 0; i < n; ++i) {
    if (!seen[i]) continue;
    cur[i] += weights_[i];
    if (best == kNone || cur[i] > cur[best]) best = i;
  }
  cur[best] -= total;
  return best;
}

std::size_t SmoothWeighted::peek(const Availability& available) const {
  const std::int64_t* cur = storage_.data() + kPad;
  std::size_t best = kNone;
  std::int64_t best_value = 0;
  for (std::size_t i = 0; i < weights_.size(); ++i) {
    if (!available(i)) continue;
    const std::int64_t v = cur[i] + weights_[i];
    if (best == kNone || v > best_value) {
      best = i;
      best_value = v;
    }
  }
  return best;
}

}  // namespace gatehouse::balance
