// balance/: may a failed try be retried (SPEC section 13)? The decision as a pure
// function of the endpoint's `retries` settings and what the try did, plus the pieces
// the retry loop needs around it: the per-try timeout, the same-server backoff, and the
// record of the servers already tried. The budget is in retry_budget.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "balance/balancer.hpp"
#include "balance/rng.hpp"
#include "config/config.hpp"

namespace gatehouse::balance {

using Duration = config::Duration;

// A body is kept for a retry only when read whole and at most this large.
inline constexpr std::uint64_t kMaxRetryBody = 64 * 1024;

// The `retries.on` names: a failed try is one of these.
enum class Failure : std::uint8_t {
  connect_failure,  // no connection (refused, unreachable, connect or TLS handshake
                    // failed or timed out): nothing reached the upstream
  reset,            // connected, then no usable response (reset, EOF, malformed head)
  timeout,          // connected, then no response head within the try's time
  status,           // a response head whose status is a failure (502, 503, 504)
};

struct TryOutcome {
  Failure failure = Failure::reset;
  int status = 0;                 // Failure::status only
  bool reached_upstream = true;   // any byte of the request was written to the upstream
  bool response_started = false;  // any byte of the response was sent to the client
};

// A response status as a try outcome (whether it is a failure is the policy's call).
inline TryOutcome status_outcome(int status) {
  return TryOutcome{Failure::status, status, true, false};
}

// The `reason` label of gatehouse_retries_total: "connect_failure", "reset", "timeout",
// or the status ("502"; "status" for one outside 100-599). A static string.
std::string_view reason(const TryOutcome& outcome);

struct RequestFacts {
  std::string_view method;  // as sent (methods are case-sensitive tokens)
  // No body, or a body read whole, kept, and at most kMaxRetryBody: it can be sent again.
  bool body_replayable = true;
};

// The body rule in one place: `has_body` with `read_whole` bytes in hand, `size` long.
inline bool body_replayable(bool has_body, bool read_whole, std::uint64_t size) {
  return !has_body || (read_whole && size <= kMaxRetryBody);
}

enum class RetryVerdict : std::uint8_t {
  retry,
  response_started,     // the client already has part of this response
  no_attempts_left,     // retries.attempts reached (or 0: retries off)
  not_retried_on,       // the failure is not in retries.on
  method_not_retried,   // reached the upstream, and the method is not in retries.methods
  body_not_replayable,  // reached the upstream, and the body cannot be sent again
  no_time_left,         // the endpoint's timeout is (nearly) spent
};
std::string_view to_string(RetryVerdict v);

class RetryPolicy {
 public:
  // `endpoint_timeout` is the endpoint's whole-exchange `timeout`.
  RetryPolicy(const config::Retries& retries, Duration endpoint_timeout);

  std::uint32_t attempts() const { return attempts_; }
  bool enabled() const { return attempts_ > 0; }

  // Is this failure in retries.on? (A status outside on.statuses is not a failure for
  // retries, whatever the breaker counts.)
  // Both false for a policy that is not enabled().
  bool retries_on(const TryOutcome& outcome) const;
  bool method_retried(std::string_view method) const;

  // The decision for one failed try. `retries_done`: retries already made for this
  // request (0 after the first try failed); `time_left`: until the endpoint's timeout.
  // The budget is asked only after a `retry` verdict (RetryBudget::try_acquire).
  RetryVerdict decide(const TryOutcome& outcome, const RequestFacts& request,
                      std::uint32_t retries_done, Duration time_left) const;

  // The next try's time: per_try_timeout (default: the endpoint's timeout), never past
  // the endpoint's timeout.
  Duration try_timeout(Duration time_left) const;

 private:
  std::uint32_t attempts_;
  std::uint8_t on_mask_ = 0;  // bit per Failure (status: any of on_statuses_)
  std::vector<int> on_statuses_;
  std::vector<std::string> methods_;
  Duration per_try_timeout_;
};

// The wait before a retry to the same server (never before one to another server):
// jittered within 25-250 ms, the upper end doubling from 50 ms with each retry to the
// same server (`same_server_retries`: 0 for the first) up to 250 ms.
inline constexpr Duration kMinBackoff{25};
inline constexpr Duration kMaxBackoff{250};
Duration retry_backoff(std::uint32_t same_server_retries, Rng& rng);

// The servers one request has tried, so a retry goes elsewhere first. Inline for the
// first 64 servers; a larger endpoint allocates once, on its first retry there.
class TriedServers {
 public:
  void add(std::size_t server) {
    if (server < 64) {
      low_ |= std::uint64_t{1} << server;
      return;
    }
    if (high_.size() <= server - 64) high_.resize(server - 64 + 1, false);
    high_[server - 64] = true;
  }
  bool contains(std::size_t server) const {
    if (server < 64) return (low_ >> server) & 1;
    return server - 64 < high_.size() && high_[server - 64];
  }
  bool empty() const { return low_ == 0 && high_.empty(); }

 private:
  std::uint64_t low_ = 0;
  std::vector<bool> high_;
};

struct RetryPick {
  std::size_t server = kNone;  // kNone: no server is available at all
  bool same_server = false;    // every available server was tried: wait retry_backoff()
};

// The server for a retry: an available one not tried yet if there is one (picked by the
// endpoint's policy among those), else an available tried one.
RetryPick pick_for_retry(Balancer& balancer, unsigned shard, const Availability& available,
                         std::optional<std::string_view> key, const TriedServers& tried);

}  // namespace gatehouse::balance
