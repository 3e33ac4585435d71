// The four policies of SPEC section 13 and the factory. Each keeps per-shard (per worker
// thread) state in its own cache lines; the servers' weights and the hash ring are
// shared and never written after construction.
#include <algorithm>
#include <functional>
#include <random>

#include "balance/balancer.hpp"
#include "balance/hash_ring.hpp"
#include "balance/rng.hpp"
#include "balance/smooth_weighted.hpp"

namespace gatehouse::balance {
namespace {

std::vector<std::uint32_t> weights_of(const BalancerSpec& spec) {
  std::vector<std::uint32_t> w;
  for (const auto& s : spec.servers) w.push_back(std::max<std::uint32_t>(s.weight, 1));
  return w;
}

unsigned shard_count(const BalancerSpec& spec) { return std::max(spec.shards, 1u); }

class RoundRobin final : public Balancer {
 public:
  explicit RoundRobin(const BalancerSpec& spec)
      : Balancer(spec.servers.size()), weights_(weights_of(spec)) {
    shards_.reserve(shard_count(spec));
    for (unsigned i = 0; i < shard_count(spec); ++i) shards_.emplace_back(weights_, true);
  }
  std::size_t pick(unsigned shard, const Availability& available,
                   std::optional<std::string_view>) override {
    return shards_[shard % shards_.size()].swrr.pick(available);
  }
  std::size_t pick_retry(unsigned shard, const Availability& available,
                         std::optional<std::string_view>) override {
    return shards_[shard % shards_.size()].swrr.peek(available);
  }

 private:
  struct alignas(64) Shard {
    Shard(std::span<const std::uint32_t> w, bool restart) : swrr(w, restart) {}
    SmoothWeighted swrr;
  };
  std::vector<std::uint32_t> weights_;
  std::vector<Shard> shards_;
};

// Fewest tries in flight (process-wide counters). Equals are taken in turn: with equal
// weights by a rotating cursor, so each server gets its turn whatever the pattern of
// completions; with unequal weights by smooth weighted round robin among them, so
// sequential traffic (all counts 0) still follows the weights.
class LeastRequest final : public Balancer {
 public:
  explicit LeastRequest(const BalancerSpec& spec)
      : Balancer(spec.servers.size()), weights_(weights_of(spec)) {
    equal_weights_ = std::adjacent_find(weights_.begin(), weights_.end(),
                                        std::not_equal_to<>()) == weights_.end();
    shards_.reserve(shard_count(spec));
    for (unsigned i = 0; i < shard_count(spec); ++i) {
      shards_.emplace_back(weights_, spec.servers.size());
    }
  }
  std::size_t pick(unsigned shard, const Availability& available,
                   std::optional<std::string_view>) override {
    return choose(shards_[shard % shards_.size()], available, false);
  }
  std::size_t pick_retry(unsigned shard, const Availability& available,
                         std::optional<std::string_view>) override {
    return choose(shards_[shard % shards_.size()], available, true);
  }

 private:
  static constexpr std::size_t kPad = 64 / sizeof(std::uint32_t);
  struct alignas(64) Shard {
    Shard(std::span<const std::uint32_t> w, std::size_t n) : swrr(w, false), loads(n + 2 * kPad) {}
    SmoothWeighted swrr;
    std::vector<std::uint32_t> loads;
    std::size_t cursor = 0;
  };
  std::vector<std::uint32_t> weights_;
  bool equal_weights_ = true;
  std::vector<Shard> shards_;

  std::size_t choose(Shard& s, const Availability& available, bool retry) {
    std::uint32_t* load = s.loads.data() + kPad;
    std::uint32_t least = UINT32_MAX;
    // One read of each counter: the candidates are judged on one consistent picture.
    for (std::size_t i = 0; i < size(); ++i) {
      load[i] = available(i) ? in_flight(i) : UINT32_MAX;
      least = std::min(least, load[i]);
    }
    if (least == UINT32_MAX) return kNone;
    if (equal_weights_) {
      for (std::size_t k = 0; k < size(); ++k) {
        const std::size_t i = (s.cursor + k) % size();
        if (load[i] != least) continue;
        if (!retry) s.cursor = i + 1;
        return i;
      }
    }
    const auto tied = [load, least](std::size_t i) { return load[i] == least; };
    return retry ? s.swrr.peek(Availability::of(tied)) : s.swrr.pick(Availability::of(tied));
  }
};

// Each available server with probability weight / (sum of the available weights).
class WeightedRandom final : public Balancer {
 public:
  explicit WeightedRandom(const BalancerSpec& spec)
      : Balancer(spec.servers.size()), weights_(weights_of(spec)) {
    std::uint64_t seed = spec.seed;
    if (seed == 0) seed = (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
    Rng seeder(seed);
    for (unsigned i = 0; i < shard_count(spec); ++i) shards_.emplace_back(seeder.next());
  }
  std::size_t pick(unsigned shard, const Availability& available,
                   std::optional<std::string_view>) override {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < size(); ++i) {
      if (available(i)) total += weights_[i];
    }
    if (total == 0) return kNone;
    std::uint64_t r = shards_[shard % shards_.size()].rng.below(total);
    std::size_t last = kNone;
    for (std::size_t i = 0; i < size(); ++i) {
      if (!available(i)) continue;
      last = i;
      if (r < weights_[i]) return i;
      r -= weights_[i];
    }
    return last;  // only if availability changed between the two passes
  }
  std::size_t pick_retry(unsigned shard, const Availability& available,
                         std::optional<std::string_view> key) override {
    return pick(shard, available, key);
  }

 private:
  struct alignas(64) Shard {
    explicit Shard(std::uint64_t seed) : rng(seed) {}
    Rng rng;
  };
  std::vector<std::uint32_t> weights_;
  std::vector<Shard> shards_;
};

// Consistent hashing on the request's key; a request without one goes round robin.
class Hash final : public Balancer {
 public:
  explicit Hash(const BalancerSpec& spec) : Balancer(spec.servers.size()), ring_(spec.servers),
                                            round_robin_(spec) {}
  std::size_t pick(unsigned shard, const Availability& available,
                   std::optional<std::string_view> key) override {
    if (!key) return round_robin_.pick(shard, available, key);
    return ring_.pick(*key, available);
  }
  std::size_t pick_retry(unsigned shard, const Availability& available,
                         std::optional<std::string_view> key) override {
    if (!key) return round_robin_.pick_retry(shard, available, key);
    return ring_.pick(*key, available);
  }

 private:
  HashRing ring_;
  RoundRobin round_robin_;
};

// One server: every policy picks it whenever it is available. No per-shard state, so an
// endpoint with one `url` (most of a large table) costs its in-flight counter only.
class Single final : public Balancer {
 public:
  Single() : Balancer(1) {}
  std::size_t pick(unsigned, const Availability& available,
                   std::optional<std::string_view>) override {
    return available(0) ? 0 : kNone;
  }
  std::size_t pick_retry(unsigned shard, const Availability& available,
                         std::optional<std::string_view> key) override {
    return pick(shard, available, key);
  }
};

}  // namespace

Balancer::Balancer(std::size_t servers)
    : size_(servers), in_flight_(std::make_unique<Counter[]>(servers)) {}

std::unique_ptr<Balancer> make_balancer(const BalancerSpec& spec) {
  if (spec.servers.size() == 1) return std::make_unique<Single>();
  switch (spec.policy) {
    case config::LoadBalancing::least_request: return std::make_unique<LeastRequest>(spec);
    case config::LoadBalancing::random: return std::make_unique<WeightedRandom>(spec);
    case config::LoadBalancing::hash: return std::make_unique<Hash>(spec);
    case config::LoadBalancing::round_robin: break;
  }
  return std::make_unique<RoundRobin>(spec);
}

std::string_view to_string(config::LoadBalancing policy) {
  switch (policy) {
    case config::LoadBalancing::least_request: return "least_request";
    case config::LoadBalancing::random: return "random";
    case config::LoadBalancing::hash: return "hash";
    case config::LoadBalancing::round_robin: break;
  }
  return "round_robin";
}

namespace {

std::string identity_of(const config::UpstreamUrl& u) {
  std::string out = u.https ? "https://" : "http://";
  const bool v6 = u.host.find(':') != std::string::npos;
  if (v6) out += '[';
  for (char c : u.host) out += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  if (v6) out += ']';
  out += ':' + std::to_string(u.port);
  return out;
}

}  // namespace

BalancerSpec spec_of(const config::Endpoint& ep, unsigned shards, std::uint64_t seed) {
  BalancerSpec spec;
  spec.policy = ep.load_balancing;
  spec.shards = shards;
  spec.seed = seed;
  if (ep.servers.empty()) {
    spec.servers.push_back({1, identity_of(ep.url)});
  } else {
    for (const auto& s : ep.servers) spec.servers.push_back({s.weight, identity_of(s.url)});
  }
  return spec;
}

}  // namespace gatehouse::balance
