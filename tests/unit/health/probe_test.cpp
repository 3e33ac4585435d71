#include "health/probe.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>

using namespace gatehouse;
using namespace gatehouse::health;
using namespace std::chrono_literals;

namespace {

config::Endpoint endpoint(std::string host, std::uint16_t port, bool https, std::string base,
                          std::string path) {
  config::Endpoint ep;
  ep.id = "users@v1";
  ep.url.host = std::move(host);
  ep.url.port = port;
  ep.url.https = https;
  ep.url.base_path = std::move(base);
  ep.health_check.edit().path = std::move(path);
  return ep;
}

TEST(Probe, RequestUsesTheOriginPathNotTheBasePath) {
  const auto ep = endpoint("127.0.0.1", 9001, false, "/api", "/health");
  const std::string req = probe_request(ep);
  EXPECT_EQ(req.rfind("GET /health HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(req.substr(req.size() - 4), "\r\n\r\n");
}

TEST(Probe, HostHeader) {
  EXPECT_EQ(host_header(endpoint("example.com", 80, false, "", "/").url), "example.com");
  EXPECT_EQ(host_header(endpoint("example.com", 443, true, "", "/").url), "example.com");
  EXPECT_EQ(host_header(endpoint("example.com", 443, false, "", "/").url), "example.com:443");
  EXPECT_EQ(host_header(endpoint("::1", 8443, true, "", "/").url), "[::1]:8443");
  EXPECT_EQ(host_header(endpoint("::1", 80, false, "", "/").url), "[::1]");
}

TEST(Probe, KeepsAQueryInThePath) {
  const auto ep = endpoint("a.example", 80, false, "", "/status?deep=1");
  EXPECT_EQ(probe_request(ep).rfind("GET /status?deep=1 HTTP/1.1\r\nHost: a.example\r\n", 0), 0u);
}

TEST(Probe, ExpectedStatusRanges) {
  const std::vector<config::StatusRange> ranges{{200, 299}, {304, 304}};
  EXPECT_FALSE(status_expected(199, ranges));
  EXPECT_TRUE(status_expected(200, ranges));
  EXPECT_TRUE(status_expected(299, ranges));
  EXPECT_FALSE(status_expected(300, ranges));
  EXPECT_TRUE(status_expected(304, ranges));
  EXPECT_FALSE(status_expected(500, ranges));
}

TEST(Probe, OffsetsAreStableAndSpreadOverTheInterval) {
  EXPECT_EQ(probe_offset("users@v1", 10s), probe_offset("users@v1", 10s));
  EXPECT_EQ(probe_offset("x", 0ms), 0ms);
  std::array<int, 10> per_second{};
  for (int i = 0; i < 1000; ++i) {
    const auto off = probe_offset("svc-" + std::to_string(i) + "@v1", 10s);
    ASSERT_GE(off, 0ms);
    ASSERT_LT(off, 10s);
    ++per_second[static_cast<std::size_t>(off / 1s)];
  }
  // 1000 endpoints over 10 s: about 100 per second, none bunched up.
  for (int n : per_second) {
    EXPECT_GT(n, 60);
    EXPECT_LT(n, 140);
  }
}

}  // namespace
