// Per-thread shards: lazy allocation, merging, the request table and its overflow.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <thread>
#include <vector>

#include "metrics/endpoint_metrics.hpp"

namespace gatehouse::metrics {
namespace {

RequestSample get(int status, std::int64_t ns = 1'000'000) {
  RequestSample s;
  s.method = Method::get;
  s.status = status;
  s.duration_ns = ns;
  return s;
}

using Counts = std::map<std::pair<std::string_view, int>, std::uint64_t>;

Counts requests(const EndpointTotals& t) {
  Counts out;
  for (const auto& [key, count] : t.requests)
    out[{method_label(key_method(key)), key_status(key)}] += count;
  return out;
}

TEST(RequestKey, RoundTrips) {
  for (Method m : {Method::get, Method::other, Method::trace}) {
    for (int status : {0, 200, 499, 999}) {
      const auto key = request_key(m, status);
      EXPECT_NE(key, 0u);
      EXPECT_EQ(key_method(key), m);
      EXPECT_EQ(key_status(key), status);
    }
  }
}

TEST(EndpointMetrics, ShardsAreAllocatedOnFirstUseOnly) {
  EndpointMetrics m("users@v1", 4);
  EXPECT_EQ(m.allocated_shards(), 0u);
  EndpointTotals t;
  m.merge_into(t);
  EXPECT_TRUE(t.requests.empty());
  EXPECT_EQ(t.duration.count(), 0u);
  m.record(2, get(200));
  EXPECT_EQ(m.allocated_shards(), 1u);
  m.record(2, get(200));
  EXPECT_EQ(m.allocated_shards(), 1u);
  m.record(0, get(200));
  EXPECT_EQ(m.allocated_shards(), 2u);
  // A shard index that is not a worker's records nothing (and does not crash).
  m.record(4, get(200));
  EXPECT_EQ(m.allocated_shards(), 2u);
  m.merge_into(t);
  const Counts expected{{{"GET", 200}, 3}};
  EXPECT_EQ(requests(t), expected);
}

TEST(EndpointMetrics, MergeSumsEveryShard) {
  EndpointMetrics m("e", 3);
  m.record(0, get(200, 50'000));         // bucket 0.0001
  m.record(1, get(200, 2'000'000));      // bucket 0.0025
  m.record(2, get(404, 20'000'000'000)); // +Inf
  RequestSample post = get(201, 3'000'000);
  post.method = Method::post;
  post.upstream_ns = 2'000'000;
  m.record(1, post);
  EndpointTotals t;
  m.merge_into(t);
  const Counts expected{{{"GET", 200}, 2}, {{"GET", 404}, 1}, {{"POST", 201}, 1}};
  EXPECT_EQ(requests(t), expected);
  EXPECT_EQ(t.duration.count(), 4u);
  EXPECT_EQ(t.duration.buckets[0], 1u);
  EXPECT_EQ(t.duration.buckets[bucket_of(2'000'000)], 1u);
  EXPECT_EQ(t.duration.buckets[bucket_of(3'000'000)], 1u);
  EXPECT_EQ(t.duration.buckets[kBuckets - 1], 1u);
  EXPECT_EQ(t.duration.sum_ns, 50'000u + 2'000'000u + 20'000'000'000u + 3'000'000u);
  // Only the request that had an upstream exchange is in the upstream histogram.
  EXPECT_EQ(t.upstream.count(), 1u);
  EXPECT_EQ(t.upstream.sum_ns, 2'000'000u);
  // Sorted by key, so the output order is stable.
  EXPECT_TRUE(std::is_sorted(t.requests.begin(), t.requests.end()));
}

TEST(EndpointMetrics, ErrorsFallbacksTransitionsAndProbes) {
  EndpointMetrics m("e", 2);
  RequestSample s = get(503);
  s.error = ErrorCode::circuit_open;
  s.fallback = Fallback::error;
  m.record(0, s);
  m.record(1, s);
  RequestSample d = get(200);
  d.fallback = Fallback::deflt;
  m.record(1, d);
  RequestSample bad = get(502);
  bad.error = ErrorCode::upstream_error;
  m.record(0, bad);
  m.count_transition(0, 1);
  m.count_transition(0, 1);
  m.count_transition(1, 2);
  m.count_transition(3, 0);  // not a state: ignored
  m.count_health_check(true);
  m.count_health_check(false);
  m.count_health_check(false);
  EndpointTotals t;
  m.merge_into(t);
  EXPECT_EQ(t.errors[static_cast<std::size_t>(ErrorCode::circuit_open)], 2u);
  EXPECT_EQ(t.errors[static_cast<std::size_t>(ErrorCode::upstream_error)], 1u);
  EXPECT_EQ(t.errors[static_cast<std::size_t>(ErrorCode::no_route)], 0u);
  EXPECT_EQ(t.fallbacks[static_cast<std::size_t>(Fallback::error)], 2u);
  EXPECT_EQ(t.fallbacks[static_cast<std::size_t>(Fallback::deflt)], 1u);
  EXPECT_EQ(t.fallbacks[static_cast<std::size_t>(Fallback::cached)], 0u);
  EXPECT_EQ(t.transitions[0][1], 2u);
  EXPECT_EQ(t.transitions[1][2], 1u);
  EXPECT_EQ(t.transitions[2][0], 0u);
  EXPECT_EQ(t.health_checks[0], 1u);
  EXPECT_EQ(t.health_checks[1], 2u);
}

TEST(EndpointMetrics, TableOverflowKeepsExactCounts) {
  EndpointMetrics m("e", 1);
  constexpr int kPairs = static_cast<int>(EndpointMetrics::kSlots) + 5;
  for (int round = 1; round <= 3; ++round)
    for (int i = 0; i < kPairs; ++i) m.record(0, get(200 + i));
  EXPECT_EQ(m.overflow_entries(), 5u);  // the pairs that did not fit in the shard's table
  EndpointTotals t;
  m.merge_into(t);
  ASSERT_EQ(t.requests.size(), static_cast<std::size_t>(kPairs));
  for (const auto& [key, count] : t.requests) EXPECT_EQ(count, 3u) << key_status(key);
  EXPECT_EQ(t.duration.count(), 3u * kPairs);
}

TEST(EndpointMetrics, ConcurrentWritersAndReaderAddUpExactly) {
  constexpr unsigned kThreads = 4;
  constexpr std::uint64_t kPerThread = 200'000;
  EndpointMetrics m("e", kThreads);
  std::atomic<bool> done{false};
  std::uint64_t last_seen = 0;
  bool monotonic = true;
  std::thread reader([&] {
    EndpointTotals t;
    while (!done.load()) {
      m.merge_into(t);
      std::uint64_t total = 0;
      for (const auto& [k, c] : t.requests) total += c;
      if (total < last_seen) monotonic = false;
      last_seen = total;
    }
  });
  std::vector<std::thread> writers;
  for (unsigned w = 0; w < kThreads; ++w) {
    writers.emplace_back([&m, w] {
      for (std::uint64_t i = 0; i < kPerThread; ++i) m.record(w, get(i % 2 ? 200 : 500 + static_cast<int>(w)));
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  EXPECT_TRUE(monotonic);
  EndpointTotals t;
  m.merge_into(t);
  const auto r = requests(t);
  EXPECT_EQ(r.at({"GET", 200}), kThreads * kPerThread / 2);
  for (unsigned w = 0; w < kThreads; ++w) EXPECT_EQ(r.at({"GET", 500 + static_cast<int>(w)}), kPerThread / 2);
  EXPECT_EQ(t.duration.count(), kThreads * kPerThread);
}

TEST(Fallback, LabelsAreTheConfigNames) {
  EXPECT_EQ(fallback_label(Fallback::error), "error");
  EXPECT_EQ(fallback_label(Fallback::cached), "cached");
  EXPECT_EQ(fallback_label(Fallback::deflt), "default");
}

}  // namespace
}  // namespace gatehouse::metrics
