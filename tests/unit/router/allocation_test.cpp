// The router runs on every request: match() must not allocate, and normalize_path()
// allocates at most once (the result). Counted by replacing global operator new for
// this test binary.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "router/normalize.hpp"
#include "router/route_table.hpp"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// The nothrow form too (std::stable_sort uses it), so every non-aligned new and delete
// pair goes through malloc/free here; sanitizer builds check that pairing.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace gatehouse::router {
namespace {

class AllocationCount {
 public:
  AllocationCount() : start_(g_allocations.load()) {}
  long operator()() const { return g_allocations.load() - start_; }

 private:
  long start_;
};

config::Endpoint endpoint(std::string prefix, std::string name, std::string version,
                          std::vector<std::string> methods) {
  config::Endpoint ep;
  ep.prefix = std::move(prefix);
  ep.name = std::move(name);
  ep.version = std::move(version);
  ep.methods = std::move(methods);
  return ep;
}

TEST(RouterAllocations, MatchDoesNotAllocate) {
  std::vector<config::Endpoint> eps;
  for (int i = 0; i < 1000; ++i) {
    eps.push_back(
        endpoint("/service-with-a-long-name-" + std::to_string(i), "", "", {}));
  }
  eps.push_back(endpoint("/users/v1", "users", "v1", {"GET"}));
  eps.push_back(endpoint("/users/v2", "users", "v2", {"GET"}));
  const RouteTable t(eps);

  RouteMatch m1, m2, m3, m4, m5;
  const AllocationCount count;
  m1 = t.match("GET", "/service-with-a-long-name-999/some/long/path/below/the/prefix",
               "");
  m2 = t.match("POST", "/users/v1/42", "");
  m3 = t.match("GET", "/users/42", "");
  m4 = t.match("GET", "/users/42", "version-string-longer-than-sso-buffer");
  m5 = t.match("GET", "/nothing/here/at/all/with/many/segments", "");
  EXPECT_EQ(count(), 0);
  EXPECT_EQ(m1.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m2.kind, RouteMatch::Kind::method_not_allowed);
  EXPECT_EQ(m3.endpoint, eps.size() - 1);
  EXPECT_EQ(m4.kind, RouteMatch::Kind::unknown_version);
  EXPECT_EQ(m5.kind, RouteMatch::Kind::no_route);
}

TEST(RouterAllocations, NormalizeAllocatesAtMostOnce) {
  const std::string long_path =
      "/api/v1/users/%7Ejohn/./documents/%2e%2e/pictures/2024/holiday/beach%20day.jpg";
  {
    const AllocationCount count;
    const auto r = normalize_path(long_path);
    EXPECT_LE(count(), 1);
    EXPECT_EQ(r, "/api/v1/users/~john/pictures/2024/holiday/beach%20day.jpg");
  }
  {
    const AllocationCount count;
    const auto r = normalize_path("/a/../b");  // fits the small-string buffer
    EXPECT_EQ(count(), 0);
    EXPECT_EQ(r, "/b");
  }
  {
    const std::string bad = long_path + " ";
    const AllocationCount count;
    const auto r = normalize_path(bad);
    EXPECT_LE(count(), 1);
    EXPECT_EQ(r, std::nullopt);
  }
}

}  // namespace
}  // namespace gatehouse::router
