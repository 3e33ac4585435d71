// ratelimit/: the token buckets of SPEC section 14: the bucket arithmetic, the
// process-wide table of buckets, key extraction, the RateLimit-* header values, and the
// shared (Redis) variant.
// bucket.hpp: one bucket's arithmetic. A bucket is held as one number, its theoretical
// arrival time (GCRA): the instant at which it would be full again. That is exactly a
// token bucket (tokens = capacity - (tat - now) / interval), and one 64-bit word is
// enough to update it with a single compare-and-swap.
#pragma once

#include <cstdint>

#include "config/config.hpp"

namespace gatehouse::ratelimit {

struct BucketParams {
  std::int64_t interval_ns = 1;   // time to earn one token: per / requests, rounded up
  std::int64_t capacity = 1;      // requests + burst
  std::int64_t tolerance_ns = 0;  // (capacity - 1) * interval: how far tat may run ahead
                                  // of now with a token still left
  std::uint64_t limit = 1;        // `requests`, for RateLimit-Limit

  static BucketParams of(const config::RateLimit& rl);
};

struct Decision {
  bool allowed = false;
  std::uint64_t remaining = 0;      // whole tokens left after this request
  std::uint64_t reset_s = 0;        // whole seconds until full again, rounded up
  std::uint64_t retry_after_s = 0;  // refused: whole seconds until a token, >= 1
};

// Seconds, rounded up, of a non-negative nanosecond count.
constexpr std::uint64_t ceil_seconds(std::int64_t ns) {
  return ns <= 0 ? 0 : static_cast<std::uint64_t>((ns + 999'999'999) / 1'000'000'000);
}

// Takes one token from the bucket whose state is `tat` (0 = never used: full) at `now`
// (nanoseconds, >= 0). Returns the new state; refused requests leave it unchanged.
std::int64_t take(const BucketParams& p, std::int64_t tat, std::int64_t now, Decision& out);

// A bucket is full (dropping it loses nothing) when its tat is not after now.
constexpr bool is_full(std::int64_t tat, std::int64_t now) { return tat <= now; }

}  // namespace gatehouse::ratelimit
