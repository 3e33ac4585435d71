// Routing cost (issue 6): route lookup over 10 / 1,000 / 100,000 prefixes must stay
// flat (O(path segments), not O(endpoints)), and path normalisation per request.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "router/normalize.hpp"
#include "router/route_table.hpp"

namespace {

using namespace gatehouse;

std::vector<config::Endpoint> make_endpoints(int n) {
  std::vector<config::Endpoint> eps;
  eps.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    config::Endpoint ep;
    ep.name = "svc" + std::to_string(i);
    ep.version = "v" + std::to_string(i % 3 + 1);
    ep.id = ep.name + "@" + ep.version;
    ep.prefix = "/" + ep.name + "/" + ep.version;
    ep.index = static_cast<std::size_t>(i);
    if (i % 2) ep.methods = {"GET", "POST"};
    eps.push_back(std::move(ep));
  }
  return eps;
}

void BM_RouteLookup(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const auto eps = make_endpoints(n);
  const router::RouteTable table(eps);
  // A path under the middle endpoint, a few segments deep.
  const std::string path = eps[static_cast<std::size_t>(n / 2)].prefix + "/orders/42/items";
  for (auto _ : state) {
    auto m = table.match("GET", path, "");
    benchmark::DoNotOptimize(m);
  }
  state.SetLabel(std::to_string(table.size()) + " prefixes");
}
BENCHMARK(BM_RouteLookup)->Arg(10)->Arg(1000)->Arg(100000);

void BM_RouteMiss(benchmark::State& state) {
  const auto eps = make_endpoints(static_cast<int>(state.range(0)));
  const router::RouteTable table(eps);
  for (auto _ : state) {
    auto m = table.match("GET", "/nowhere/at/all", "");
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_RouteMiss)->Arg(10)->Arg(100000);

void BM_NormalizePlain(benchmark::State& state) {
  for (auto _ : state) {
    auto p = router::normalize_path("/users/v1/42/orders");
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_NormalizePlain);

void BM_NormalizeEscapesAndDots(benchmark::State& state) {
  for (auto _ : state) {
    auto p = router::normalize_path("/users/v1/a/%2e%2e/b/./c%2Fd/%7Euser");
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_NormalizeEscapesAndDots);

}  // namespace
