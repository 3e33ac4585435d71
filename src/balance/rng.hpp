// balance/: a small, fast pseudo-random generator (splitmix64) for the random policy
// and the retry backoff's jitter. One per thread or per shard: it is not thread-safe.
#pragma once

#include <cstdint>

namespace gatehouse::balance {

__extension__ typedef unsigned __int128 Uint128;  // g++/clang extension, deliberately

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0x9e3779b97f4a7c15ULL) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n) for n > 0 (multiply-shift: no division, bias below 2^-32 for the
  // ranges used here).
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<Uint128>(next()) * n) >> 64);
  }

 private:
  std::uint64_t state_;
};

}  // namespace gatehouse::balance
