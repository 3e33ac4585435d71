#include "ratelimit/limiter.hpp"

#include <cstdio>

namespace gatehouse::ratelimit {

Limiter::Limiter(const config::RateLimit& rl, std::string_view endpoint_id, const Clock& clock,
                 std::size_t max_keys)
    : settings_(rl),
      params_(BucketParams::of(rl)),
      key_(KeySpec::parse(rl.key)),
      clock_(clock),
      epoch_(clock.steady_now()) {
  if (!rl.shared) table_ = std::make_unique<BucketTable>(max_keys);
  // gatehouse:rl:{id}:requests:per_ms:burst:key: — braces make the id a cluster hash tag.
  redis_prefix_ = "gatehouse:rl:{";
  redis_prefix_.append(endpoint_id);
  redis_prefix_.append("}:");
  redis_prefix_.append(std::to_string(rl.requests)).push_back(':');
  redis_prefix_.append(std::to_string(rl.per.count())).push_back(':');
  redis_prefix_.append(std::to_string(rl.burst)).push_back(':');
  redis_prefix_.append(rl.key).push_back(':');
  char buf[64];
  const double per_us = static_cast<double>(rl.per.count()) * 1000.0;
  std::snprintf(buf, sizeof buf, "%.17g", per_us / static_cast<double>(rl.requests));
  interval_us_ = buf;
  capacity_ = std::to_string(rl.requests + rl.burst);
}

Decision Limiter::take_local(std::string_view key) {
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.steady_now() - epoch_);
  return table_->take(key, params_, std::max<std::int64_t>(0, now.count()));
}

void Limiter::redis_key(std::string_view key, std::string& out) const {
  out.assign(redis_prefix_);
  out.append(key);
}

}  // namespace gatehouse::ratelimit
