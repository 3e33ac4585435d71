// The circuit breaker's cost on the request path (issue 3): ns per admit + record in
// the closed state, from one thread and from two threads sharing one breaker (the
// real case: every worker thread uses the endpoint's one breaker).
#include <benchmark/benchmark.h>

#include <chrono>

#include "common/clock.hpp"
#include "health/breaker.hpp"
#include "health/endpoint_state.hpp"

namespace {

using namespace gatehouse;
using namespace gatehouse::health;

CircuitBreaker& shared_breaker() {
  static CircuitBreaker breaker(BreakerOptions{}, RealClock::instance());
  return breaker;
}

// admit() + record(success): what every proxied request pays.
void BM_BreakerAdmitRecordClosed(benchmark::State& state) {
  CircuitBreaker& b = shared_breaker();
  for (auto _ : state) {
    const Admission a = b.admit();
    benchmark::DoNotOptimize(a);
    b.record(a, true);
  }
}
BENCHMARK(BM_BreakerAdmitRecordClosed)->Threads(1)->Threads(2);

// The same with one failure in 100: the count is written, then reset by a success.
void BM_BreakerAdmitRecordClosedSomeFailures(benchmark::State& state) {
  static CircuitBreaker b(BreakerOptions{1u << 30, std::chrono::seconds(30), 1, {}},
                          RealClock::instance());
  unsigned i = 0;
  for (auto _ : state) {
    const Admission a = b.admit();
    benchmark::DoNotOptimize(a);
    b.record(a, ++i % 100 != 0);
  }
}
BENCHMARK(BM_BreakerAdmitRecordClosedSomeFailures)->Threads(1)->Threads(2);

// An open breaker answering with a fallback: admit() reads the clock.
void BM_BreakerAdmitOpen(benchmark::State& state) {
  static CircuitBreaker b = [] {
    return CircuitBreaker(BreakerOptions{}, RealClock::instance());
  }();
  b.health_down();
  for (auto _ : state) {
    const Admission a = b.admit();
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_BreakerAdmitOpen)->Threads(1);

// The whole per-request bookkeeping: admit, counters, latency histogram, breaker.
void BM_EndpointStateAdmitRecord(benchmark::State& state) {
  static EndpointState ep = [] {
    config::Endpoint cfg;
    cfg.id = "bench@v1";
    return EndpointState(cfg, RealClock::instance());
  }();
  const auto now = std::chrono::steady_clock::now();
  const auto latency = std::chrono::microseconds(850);
  for (auto _ : state) {
    const Admission a = ep.admit();
    ep.record(a, Outcome::success, latency, now);
  }
}
BENCHMARK(BM_EndpointStateAdmitRecord)->Threads(1)->Threads(2);

}  // namespace
