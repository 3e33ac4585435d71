// health/: the process's one active health checker.
#pragma once

#include <memory>
#include <vector>

#include "common/clock.hpp"
#include "health/endpoint_state.hpp"

namespace gatehouse::health {

// One thread with its own io_context probes every server of every endpoint whose health
// check is enabled (one EndpointState per server): every `interval`, at a stable
// per-endpoint offset inside the interval (an endpoint's servers spread evenly from it),
// `GET scheme://host:port{path}` within `timeout` (TLS with the endpoint's tls settings
// for https upstreams). Each result goes to EndpointState::record_probe on the
// checker's thread. Asio stays inside the .cpp.
class HealthChecker {
 public:
  explicit HealthChecker(const Clock& clock = RealClock::instance());
  ~HealthChecker();  // stop()
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // The full set to probe (at start and after each reload). Endpoints already being
  // probed (same EndpointState object) keep their schedule; new ones start; missing
  // ones stop, and a probe of theirs in flight is cancelled without a result. Disabled
  // endpoints and `health_check: false` are skipped. Callable from any thread.
  void set_endpoints(std::vector<std::shared_ptr<EndpointState>> endpoints);

  // Cancels every probe and joins the thread. Idempotent.
  void stop();

  // How many endpoints are being probed (applied set_endpoints calls only).
  std::size_t active() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gatehouse::health
