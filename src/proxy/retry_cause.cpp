#include "proxy/retry_cause.hpp"

namespace gatehouse::proxy {

std::optional<balance::TryOutcome> try_outcome(const GatewayError& e, const TryProgress& p) {
  if (e.who != Party::upstream) return std::nullopt;
  balance::TryOutcome out;
  out.reached_upstream = p.connected && p.request_written;
  out.response_started = p.response_started;
  if (!p.connected) {
    out.failure = balance::Failure::connect_failure;
  } else if (e.code == ErrorCode::upstream_timeout) {
    out.failure = balance::Failure::timeout;
  } else {
    out.failure = balance::Failure::reset;
  }
  return out;
}

}  // namespace gatehouse::proxy
