#include "ratelimit/bucket.hpp"

#include <algorithm>

namespace gatehouse::ratelimit {

BucketParams BucketParams::of(const config::RateLimit& rl) {
  BucketParams p;
  const std::int64_t per_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(rl.per).count();
  const auto requests = static_cast<std::int64_t>(std::max<std::uint64_t>(rl.requests, 1));
  // Rounded up, so the refill is never faster than configured (the accuracy rule).
  p.interval_ns = std::max<std::int64_t>(1, (per_ns + requests - 1) / requests);
  p.capacity = requests + static_cast<std::int64_t>(rl.burst);
  p.tolerance_ns = (p.capacity - 1) * p.interval_ns;
  p.limit = static_cast<std::uint64_t>(requests);
  return p;
}

std::int64_t take(const BucketParams& p, std::int64_t tat, std::int64_t now, Decision& out) {
  const std::int64_t start = std::max(tat, now);
  const std::int64_t ahead = start - now;
  if (ahead > p.tolerance_ns) {
    out.allowed = false;
    out.remaining = 0;
    out.reset_s = ceil_seconds(ahead);
    out.retry_after_s = std::max<std::uint64_t>(1, ceil_seconds(ahead - p.tolerance_ns));
    return tat;
  }
  const std::int64_t next = start + p.interval_ns;
  const std::int64_t used = (next - now + p.interval_ns - 1) / p.interval_ns;  // tokens short of full
  out.allowed = true;
  out.remaining = static_cast<std::uint64_t>(std::max<std::int64_t>(0, p.capacity - used));
  out.reset_s = ceil_seconds(next - now);
  out.retry_after_s = 0;
  return next;
}

}  // namespace gatehouse::ratelimit
