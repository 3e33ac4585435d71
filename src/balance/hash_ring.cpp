#include "balance/hash_ring.hpp"

#include <algorithm>

namespace gatehouse::balance {
namespace {

std::uint64_t avalanche(std::uint64_t h) {  // MurmurHash3's fmix64
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

std::uint64_t hash64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  return avalanche(h);
}

HashRing::HashRing(std::span<const ServerSpec> servers) : servers_(servers.size()) {
  std::size_t total = 0;
  for (const auto& s : servers) total += std::size_t{s.weight} * kPointsPerWeight;
  points_.reserve(total);
  for (std::size_t i = 0; i < servers.size(); ++i) {
    const std::uint64_t base = hash64(servers[i].identity);
    const std::uint64_t count = std::uint64_t{servers[i].weight} * kPointsPerWeight;
    for (std::uint64_t k = 0; k < count; ++k) {
      // Point k of a server depends on its identity and k only, so adding weight or
      // servers keeps every existing point where it was.
      points_.push_back({avalanche(base + (k + 1) * 0x9e3779b97f4a7c15ULL),
                         static_cast<std::uint32_t>(i)});
    }
  }
  // Equal hashes (astronomically rare) get a fixed order all the same.
  std::sort(points_.begin(), points_.end(), [](const Point& a, const Point& b) {
    return a.hash != b.hash ? a.hash < b.hash : a.server < b.server;
  });
}

std::size_t HashRing::pick(std::string_view key, const Availability& available) const {
  if (points_.empty()) return kNone;
  bool any = false;
  for (std::size_t i = 0; i < servers_ && !any; ++i) any = available(i);
  if (!any) return kNone;
  const std::uint64_t h = hash64(key);
  auto it = std::lower_bound(points_.begin(), points_.end(), h,
                             [](const Point& p, std::uint64_t v) { return p.hash < v; });
  std::size_t at = static_cast<std::size_t>(it - points_.begin());
  for (std::size_t step = 0; step < points_.size(); ++step, ++at) {
    if (at == points_.size()) at = 0;
    if (available(points_[at].server)) return points_[at].server;
  }
  return kNone;
}

}  // namespace gatehouse::balance
