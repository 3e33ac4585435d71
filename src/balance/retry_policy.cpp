#include "balance/retry_policy.hpp"

#include <algorithm>
#include <array>

namespace gatehouse::balance {
namespace {

constexpr std::uint8_t bit(Failure f) { return std::uint8_t(1u << static_cast<unsigned>(f)); }

}  // namespace

std::string_view reason(const TryOutcome& outcome) {
  switch (outcome.failure) {
    case Failure::connect_failure: return "connect_failure";
    case Failure::reset: return "reset";
    case Failure::timeout: return "timeout";
    case Failure::status: break;
  }
  // Three characters per status, 100-599, in one static table.
  static constexpr auto kTable = [] {
    std::array<char, 500 * 3> t{};
    for (int s = 100; s < 600; ++s) {
      const auto at = static_cast<std::size_t>(s - 100) * 3;
      t[at] = static_cast<char>('0' + s / 100);
      t[at + 1] = static_cast<char>('0' + s / 10 % 10);
      t[at + 2] = static_cast<char>('0' + s % 10);
    }
    return t;
  }();
  if (outcome.status < 100 || outcome.status > 599) return "status";
  return {kTable.data() + static_cast<std::size_t>(outcome.status - 100) * 3, 3};
}

std::string_view to_string(RetryVerdict v) {
  switch (v) {
    case RetryVerdict::retry: return "retry";
    case RetryVerdict::response_started: return "response_started";
    case RetryVerdict::no_attempts_left: return "no_attempts_left";
    case RetryVerdict::not_retried_on: return "not_retried_on";
    case RetryVerdict::method_not_retried: return "method_not_retried";
    case RetryVerdict::body_not_replayable: return "body_not_replayable";
    case RetryVerdict::no_time_left: return "no_time_left";
  }
  return "?";
}

RetryPolicy::RetryPolicy(const config::Retries& r, Duration endpoint_timeout)
    : attempts_(r.attempts),
      // Without attempts nothing asks for the lists (decide() stops first, callers check
      // enabled()): every endpoint of a large config would otherwise hold six strings.
      on_statuses_(r.attempts > 0 ? r.on_statuses : std::vector<int>{}),
      methods_(r.attempts > 0 ? r.methods : std::vector<std::string>{}),
      per_try_timeout_(std::min(r.per_try_timeout.value_or(endpoint_timeout), endpoint_timeout)) {
  if (attempts_ == 0) return;
  if (r.on_connect_failure) on_mask_ |= bit(Failure::connect_failure);
  if (r.on_reset) on_mask_ |= bit(Failure::reset);
  if (r.on_timeout) on_mask_ |= bit(Failure::timeout);
}

bool RetryPolicy::retries_on(const TryOutcome& outcome) const {
  if (outcome.failure == Failure::status) {
    return std::find(on_statuses_.begin(), on_statuses_.end(), outcome.status) !=
           on_statuses_.end();
  }
  return (on_mask_ & bit(outcome.failure)) != 0;
}

bool RetryPolicy::method_retried(std::string_view method) const {
  return std::find(methods_.begin(), methods_.end(), method) != methods_.end();
}

RetryVerdict RetryPolicy::decide(const TryOutcome& outcome, const RequestFacts& request,
                                 std::uint32_t retries_done, Duration time_left) const {
  if (outcome.response_started) return RetryVerdict::response_started;
  if (retries_done >= attempts_) return RetryVerdict::no_attempts_left;
  if (!retries_on(outcome)) return RetryVerdict::not_retried_on;
  // Nothing reached the upstream: it cannot have acted on the request, whatever the
  // method, and the body (if any) has not been consumed.
  if (outcome.reached_upstream) {
    if (!method_retried(request.method)) return RetryVerdict::method_not_retried;
    if (!request.body_replayable) return RetryVerdict::body_not_replayable;
  }
  // Under a millisecond left cannot hold a try's connect and exchange.
  if (time_left < Duration{1}) return RetryVerdict::no_time_left;
  return RetryVerdict::retry;
}

Duration RetryPolicy::try_timeout(Duration time_left) const {
  return std::max(Duration{0}, std::min(per_try_timeout_, time_left));
}

Duration retry_backoff(std::uint32_t same_server_retries, Rng& rng) {
  const std::uint32_t shift = std::min<std::uint32_t>(same_server_retries, 8);
  const auto upper = std::min<std::int64_t>(kMaxBackoff.count(), 50LL << shift);
  const auto span = static_cast<std::uint64_t>(upper - kMinBackoff.count() + 1);
  return Duration{kMinBackoff.count() + static_cast<std::int64_t>(rng.below(span))};
}

RetryPick pick_for_retry(Balancer& balancer, unsigned shard, const Availability& available,
                         std::optional<std::string_view> key, const TriedServers& tried) {
  const auto untried = [&](std::size_t i) { return available(i) && !tried.contains(i); };
  RetryPick p;
  p.server = balancer.pick_retry(shard, Availability::of(untried), key);
  if (p.server != kNone) return p;
  p.server = balancer.pick_retry(shard, available, key);
  p.same_server = p.server != kNone;
  return p;
}

}  // namespace gatehouse::balance
