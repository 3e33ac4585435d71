#include "health/endpoint_state.hpp"

#include <algorithm>

namespace gatehouse::health {

namespace {

// A trial that has held its slot longer than any request may take lost its result
// (a missing record() call): half-open must not wait for it forever.
BreakerOptions breaker_options(const config::Endpoint& ep) {
  BreakerOptions o = BreakerOptions::from(*ep.circuit_breaker);
  o.trial_timeout = ep.connect_timeout + ep.timeout + std::chrono::seconds(1);
  return o;
}

const config::UpstreamUrl& server_url(const config::Endpoint& ep, std::size_t server) {
  return server < ep.servers.size() ? ep.servers[server].url : ep.url;
}

SharedCallbacks shared(EndpointCallbacks callbacks) {
  if (!callbacks.on_breaker && !callbacks.on_health && !callbacks.on_probe) return nullptr;
  return std::make_shared<const EndpointCallbacks>(std::move(callbacks));
}

}  // namespace

EndpointState::EndpointState(const config::Endpoint& ep, const Clock& clock,
                             EndpointCallbacks callbacks, std::size_t server)
    : EndpointState(std::make_shared<const config::Endpoint>(ep), clock, std::move(callbacks),
                    server) {}

EndpointState::EndpointState(std::shared_ptr<const config::Endpoint> config, const Clock& clock,
                             EndpointCallbacks callbacks, std::size_t server)
    : EndpointState(*config, config, clock, shared(std::move(callbacks)), nullptr, server) {}

EndpointState::EndpointState(std::shared_ptr<const config::Endpoint> config, const Clock& clock,
                             SharedCallbacks callbacks, std::shared_ptr<void> context,
                             std::size_t server)
    : EndpointState(*config, config, clock, std::move(callbacks), std::move(context), server) {}

EndpointState::EndpointState(const config::Endpoint& ep,
                             std::shared_ptr<const config::Endpoint> config, const Clock& clock,
                             SharedCallbacks callbacks, std::shared_ptr<void> context,
                             std::size_t server)
    : id_(ep.id),
      url_(server_url(ep, server)),
      index_(server),
      count_(std::max<std::size_t>(1, ep.servers.size())),
      clock_(clock),
      callbacks_(std::move(callbacks)),
      context_(std::move(context)),
      failure_statuses_(ep.circuit_breaker->failure_statuses),
      breaker_(breaker_options(ep), clock,
               [this](const BreakerTransition& t) {
                 touch();
                 if (callbacks_ && callbacks_->on_breaker) callbacks_->on_breaker(*this, t);
               }),
      health_(*ep.health_check,
              [this](const HealthTransition& t) {
                touch();
                if (callbacks_ && callbacks_->on_health) callbacks_->on_health(*this, t);
              }),
      config_(std::move(config)) {
  touch();
}

EndpointState::Shard& EndpointState::shard() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shards_.get()[index];
}

void EndpointState::record(const Admission& a, Outcome outcome) {
  Shard& s = shard();
  s.total.fetch_add(1, std::memory_order_relaxed);
  switch (outcome) {
    case Outcome::success:
      breaker_.record(a, true);
      break;
    case Outcome::failure:
      s.failed.fetch_add(1, std::memory_order_relaxed);
      breaker_.record(a, false);
      break;
    case Outcome::aborted:
      breaker_.cancel(a);
      break;
  }
}

void EndpointState::record_fallback() {
  Shard& s = shard();
  s.total.fetch_add(1, std::memory_order_relaxed);
  s.fallbacks.fetch_add(1, std::memory_order_relaxed);
}

bool EndpointState::is_failure_status(int status) const {
  const auto& list = failure_statuses_;
  return std::find(list.begin(), list.end(), status) != list.end();
}

void EndpointState::record_probe(const CheckRecord& result) {
  const auto t = health_.record(result);
  // Open for the health verdict first, so the log names the real reason.
  if (t && t->to == Health::down) breaker_.health_down();
  breaker_.record_probe(result.ok);
  if (callbacks_ && callbacks_->on_probe) callbacks_->on_probe(*this, result.ok);
}

bool EndpointState::keeps_state_for(const config::Endpoint& next,
                                    const config::UpstreamUrl& server) const {
  const auto current = config();
  return url_ == server && current->health_check == next.health_check &&
         current->circuit_breaker == next.circuit_breaker;
}

void EndpointState::count_code(int code) {
  Shard& s = shard();
  for (auto& slot : s.codes) {
    int c = slot.code.load(std::memory_order_relaxed);
    if (c == 0) {
      // Claim a free slot; another thread of the same shard may race for it.
      if (slot.code.compare_exchange_strong(c, code, std::memory_order_relaxed)) c = code;
    }
    if (c == code) {
      slot.count.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  std::lock_guard lock(codes_mutex_);
  for (auto& cc : overflow_codes_)
    if (cc.code == code) {
      ++cc.count;
      return;
    }
  overflow_codes_.push_back({code, 1});
}

std::vector<CodeCount> EndpointState::codes() const {
  std::vector<CodeCount> out;
  auto add = [&](int code, std::uint64_t n) {
    if (code == 0 || n == 0) return;
    for (auto& cc : out)
      if (cc.code == code) {
        cc.count += n;
        return;
      }
    out.push_back({code, n});
  };
  if (const Shards* shards = shards_.peek())
    for (const Shard& s : *shards)
      for (const auto& slot : s.codes)
        add(slot.code.load(std::memory_order_relaxed), slot.count.load(std::memory_order_relaxed));
  {
    std::lock_guard lock(codes_mutex_);
    for (const auto& cc : overflow_codes_) add(cc.code, cc.count);
  }
  std::sort(out.begin(), out.end(), [](const CodeCount& a, const CodeCount& b) { return a.code < b.code; });
  return out;
}

void EndpointState::update_config(const config::Endpoint& next) {
  update_config(std::make_shared<const config::Endpoint>(next));
}

void EndpointState::update_config(std::shared_ptr<const config::Endpoint> next) {
  rebind(std::move(next));
  touch();
}

void EndpointState::rebind(std::shared_ptr<const config::Endpoint> next) {
  std::lock_guard lock(config_mutex_);
  config_.swap(next);
  // The previous pointer (`next` now) is released after the lock: it may be the last
  // reference to a whole old config.
}

std::shared_ptr<const config::Endpoint> EndpointState::config() const {
  std::lock_guard lock(config_mutex_);
  return config_;
}

void EndpointState::touch() { last_updated_.store(clock_.system_now()); }

Clock::SystemTime EndpointState::last_updated() const { return last_updated_.load(); }

EndpointSnapshot EndpointState::snapshot() {
  breaker_.refresh();
  EndpointSnapshot s;
  s.id = id_;
  s.health = health_.status();
  s.circuit_breaker = breaker_.snapshot();
  s.last_health_check = health_.last_check();
  if (const Shards* shards = shards_.peek())
    for (const Shard& shard : *shards) {
      s.requests_total += shard.total.load(std::memory_order_relaxed);
      s.requests_failed += shard.failed.load(std::memory_order_relaxed);
      s.fallbacks += shard.fallbacks.load(std::memory_order_relaxed);
    }
  s.last_updated = last_updated();
  return s;
}

}  // namespace gatehouse::health
