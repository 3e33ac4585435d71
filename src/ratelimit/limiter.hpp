// ratelimit/: one endpoint's rate limit: its settings, its key, and (local limits) its
// process-wide buckets. Held by the registry's snapshot and carried over reloads that
// leave the endpoint's `rate_limit` unchanged, so its buckets survive them.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "config/config.hpp"
#include "ratelimit/bucket.hpp"
#include "ratelimit/bucket_table.hpp"
#include "ratelimit/headers.hpp"
#include "ratelimit/key.hpp"

namespace gatehouse::ratelimit {

class Limiter {
 public:
  Limiter(const config::RateLimit& rl, std::string_view endpoint_id, const Clock& clock,
          std::size_t max_keys = BucketTable::kDefaultMaxKeys);

  const config::RateLimit& settings() const { return settings_; }
  const BucketParams& params() const { return params_; }
  const KeySpec& key_spec() const { return key_; }
  // The RateLimit-Limit field and the start of RateLimit-Remaining (HeaderBlock::set).
  std::string_view limit_fields() const { return limit_fields_; }
  bool shared() const { return settings_.shared; }
  // Whether `rl` is what this limiter was built for (a reload keeps it then).
  bool same_settings(const config::RateLimit& rl) const { return rl == settings_; }

  // Local limits: one token of `key`'s bucket, now.
  Decision take_local(std::string_view key);
  const BucketTable* table() const { return table_.get(); }

  // Shared limits: the Redis key of `key`'s bucket. The settings are part of it, so a
  // changed rate_limit starts with full buckets there too, and replicas running two
  // configs during a rollout never mix their buckets.
  void redis_key(std::string_view key, std::string& out) const;
  // The script's arguments: microseconds per token (fractional) and the capacity.
  const std::string& interval_us_arg() const { return interval_us_; }
  const std::string& capacity_arg() const { return capacity_; }

 private:
  const config::RateLimit settings_;
  const BucketParams params_;
  const KeySpec key_;
  const Clock& clock_;
  const Clock::SteadyTime epoch_;
  std::unique_ptr<BucketTable> table_;  // null for shared limits
  std::string redis_prefix_;
  std::string interval_us_;
  std::string capacity_;
  const std::string limit_fields_ = HeaderBlock::limit_fields_of(params_.limit);
};

}  // namespace gatehouse::ratelimit
