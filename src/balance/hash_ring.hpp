// balance/: the consistent-hash ring of the `hash` policy. Each server owns
// kPointsPerWeight * weight points on a 64-bit ring, placed by hashing the server's
// identity (not its position in the list); a key goes to the owner of the first point at
// or after the key's hash, skipping points of unavailable servers. So removing a server,
// or one becoming unavailable, moves exactly the keys that were on it (to the next
// points' owners), and they return when it comes back; no other key moves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "balance/balancer.hpp"

namespace gatehouse::balance {

// 64-bit FNV-1a with a final avalanche (FNV alone mixes its low bits poorly).
std::uint64_t hash64(std::string_view bytes);

class HashRing {
 public:
  // About 1% spread between equal servers at 160 points each (the ketama figure).
  static constexpr std::uint32_t kPointsPerWeight = 160;

  explicit HashRing(std::span<const ServerSpec> servers);

  // The server owning `key`, or kNone when no server is available.
  std::size_t pick(std::string_view key, const Availability& available) const;

  std::size_t points() const { return points_.size(); }

 private:
  struct Point {
    std::uint64_t hash;
    std::uint32_t server;
  };
  std::vector<Point> points_;  // sorted by hash
  std::size_t servers_ = 0;
};

}  // namespace gatehouse::balance
