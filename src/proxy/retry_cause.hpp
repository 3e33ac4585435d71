// proxy/: a failed try's GatewayError in the terms of `retries.on` (SPEC section 13),
// for balance::RetryPolicy::decide.
#pragma once

#include <optional>

#include "balance/retry_policy.hpp"
#include "proxy/gateway_error.hpp"

namespace gatehouse::proxy {

struct TryProgress {
  bool connected = false;         // the connection (and TLS handshake) was established
  bool request_written = false;   // any byte of the request was written to it
  bool response_started = false;  // any byte of the response was sent to the client
};

// nullopt when the failure is not the upstream's (the client's or the gateway's own:
// never retried). Otherwise: not connected -> connect_failure (a connect timeout too:
// nothing reached the upstream); upstream_timeout -> timeout; any other upstream
// failure (reset, EOF, a malformed or cut response) -> reset.
// The stale keep-alive retry (GatewayError::retryable) is decided before this and is not
// a retry: it uses neither the attempts nor the budget.
std::optional<balance::TryOutcome> try_outcome(const GatewayError& e, const TryProgress& p);

}  // namespace gatehouse::proxy
