// Metrics cost: the one recording call every request makes (from one and two threads,
// each on its own shard as workers are), and a whole scrape of 10,000 endpoints that all
// saw traffic (the worst case: every endpoint has both histograms).
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "admin/metrics_page.hpp"
#include "config/config.hpp"
#include "metrics/registry.hpp"
#include "registry/snapshot.hpp"

namespace {

using namespace gatehouse;

void BM_MetricsRecord(benchmark::State& state) {
  static metrics::Registry reg(8);
  static const auto m = reg.endpoint("users@v1");
  const auto shard = static_cast<unsigned>(state.thread_index());
  metrics::RequestSample s;
  s.method = metrics::method_of("GET");
  s.upstream_ns = 350'000;
  std::int64_t i = 0;
  for (auto _ : state) {
    s.status = (++i & 63) == 0 ? 404 : 200;
    s.duration_ns = 400'000 + (i & 1023) * 1000;
    reg.record(m.get(), shard, s);
  }
}
BENCHMARK(BM_MetricsRecord)->Threads(1)->Threads(2);

void BM_MetricsScrape10k(benchmark::State& state) {
  constexpr int kEndpoints = 10'000;
  std::string yaml = "endpoints:\n";
  for (int i = 0; i < kEndpoints; ++i)
    yaml += "  - {url: 'http://127.0.0.1:9/e" + std::to_string(i) + "', name: e" +
            std::to_string(i) + ", health_check: false}\n";
  auto loaded = config::load_from_string(yaml, "bench.yaml");
  if (!loaded.config) {
    state.SkipWithError("config did not load");
    return;
  }
  auto cfg = std::make_shared<const config::Config>(std::move(*loaded.config));
  metrics::Registry reg(2);
  std::string error;
  auto snap = registry::build_snapshot(cfg, 1, 1, nullptr, RealClock::instance(), {}, error, &reg);
  for (const auto& ep : snap->endpoints) {
    metrics::RequestSample s;
    s.method = metrics::Method::get;
    s.status = 200;
    s.duration_ns = 900'000;
    s.upstream_ns = 800'000;
    ep.metrics->record(0, s);
    ep.metrics->record(1, s);
  }
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string out = admin::render_metrics(*snap, reg, {1, "bench"});
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_MetricsScrape10k)->Unit(benchmark::kMillisecond);

}  // namespace
