// config/: the endpoint settings held by Shared (shared_value.hpp) made shared where equal
// (the loader, endpoint by endpoint), and copied with what was shared kept shared.
#pragma once

#include <unordered_map>

#include "config/config.hpp"

namespace gatehouse::config::detail {

// Endpoints usually set these alike: each endpoint's are compared with the last distinct
// ones seen and take that object when equal (one comparison per setting, no index).
class SettingsSharer {
 public:
  void share(Endpoint& ep) {
    one(ep.tls, tls_);
    one(ep.health_check, health_check_);
    one(ep.circuit_breaker, circuit_breaker_);
    one(ep.retries, retries_);
    one(ep.fallback, fallback_);
    one(ep.rate_limit, rate_limit_);
  }
  // The objects to offer the next endpoint: `ep`'s.
  void seed(const Endpoint& ep) {
    tls_ = ep.tls;
    health_check_ = ep.health_check;
    circuit_breaker_ = ep.circuit_breaker;
    retries_ = ep.retries;
    fallback_ = ep.fallback;
    rate_limit_ = ep.rate_limit;
  }

 private:
  template <typename S>
  static void one(S& value, S& last) {
    if (value.same_object(last)) return;
    if (value == last) value = last;
    else last = value;
  }
  Shared<UpstreamTls> tls_;
  Shared<HealthCheck> health_check_;
  Shared<CircuitBreaker> circuit_breaker_;
  Shared<Retries> retries_;
  SharedOptional<Fallback> fallback_;
  SharedOptional<RateLimit> rate_limit_;
};

// Gives each endpoint's settings objects of their own, allocated now (on this thread's
// heap), each distinct object copied once, so what was shared stays shared.
class SettingsCopier {
 public:
  void copy(Endpoint& ep) {
    one(ep.tls, tls_);
    one(ep.health_check, health_check_);
    one(ep.circuit_breaker, circuit_breaker_);
    one(ep.retries, retries_);
    one(ep.fallback, fallback_);
    one(ep.rate_limit, rate_limit_);
  }

 private:
  template <typename S>
  static void one(S& value, std::unordered_map<const void*, S>& done) {
    const void* id = value.identity();
    if (!id) return;
    auto [it, inserted] = done.try_emplace(id);
    if (inserted) it->second = value.copied();
    value = it->second;
  }
  std::unordered_map<const void*, Shared<UpstreamTls>> tls_;
  std::unordered_map<const void*, Shared<HealthCheck>> health_check_;
  std::unordered_map<const void*, Shared<CircuitBreaker>> circuit_breaker_;
  std::unordered_map<const void*, Shared<Retries>> retries_;
  std::unordered_map<const void*, SharedOptional<Fallback>> fallback_;
  std::unordered_map<const void*, SharedOptional<RateLimit>> rate_limit_;
};

}  // namespace gatehouse::config::detail
