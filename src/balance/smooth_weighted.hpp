// balance/: smooth weighted round robin (the algorithm of nginx's upstream module), the
// state of one shard. Each pick adds every available server's weight to its current
// value, takes the largest (the first of equals) and subtracts the total from it: over
// every run of sum(weights) picks each server is chosen exactly weight times, spread out
// (weights 5,1,1 give a a b a c a a, not a a a a a b c).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "balance/balancer.hpp"

namespace gatehouse::balance {

class SmoothWeighted {
 public:
  // `weights` must outlive this object. With `restart_on_change`, a change in the set
  // of available servers restarts the sequence from zero, so that every window of the
  // new set's weight sum is exact again at once; without it the current values carry
  // over (least_request's tie-breaking, whose candidate set changes all the time).
  SmoothWeighted(std::span<const std::uint32_t> weights, bool restart_on_change);

  // kNone when no server is available.
  std::size_t pick(const Availability& available);
  // The available server pick() would favour now, without changing any state.
  std::size_t peek(const Availability& available) const;

 private:
  std::span<const std::uint32_t> weights_;
  bool restart_on_change_;
  // Padded on both sides: the shards' vectors are separate heap blocks that may sit next
  // to each other, and each is written on every pick by its own thread.
  static constexpr std::size_t kPad = 64 / sizeof(std::int64_t);
  std::vector<std::int64_t> storage_;
  std::vector<std::uint8_t> seen_storage_;  // this pick's availability, read once each
  std::uint64_t fingerprint_ = 0;
  bool started_ = false;
  std::int64_t* current() { return storage_.data() + kPad; }
  std::uint8_t* seen() { return seen_storage_.data() + 64; }
};

}  // namespace gatehouse::balance
