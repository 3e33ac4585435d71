// The health checker against real sockets: a tiny upstream on 127.0.0.1:0, short
// intervals, and polling with a deadline instead of fixed sleeps.
#include "health/health_checker.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "test_server.hpp"

using namespace gatehouse;
using namespace gatehouse::health;
using namespace std::chrono_literals;
using gatehouse::testing::eventually;
using gatehouse::testing::TestCert;
using gatehouse::testing::TestServer;

namespace {

config::Endpoint endpoint(std::string id, std::uint16_t port, bool https = false) {
  config::Endpoint ep;
  ep.id = std::move(id);
  ep.url.https = https;
  ep.url.host = "127.0.0.1";
  ep.url.port = port;
  ep.url.base_path = "/api";
  ep.url.text =
      std::string(https ? "https" : "http") + "://127.0.0.1:" + std::to_string(port) + "/api";
  ep.health_check.edit().path = "/health";
  ep.health_check.edit().interval = 50ms;
  ep.health_check.edit().timeout = 1s;
  ep.health_check.edit().healthy_threshold = 2;
  ep.health_check.edit().unhealthy_threshold = 2;
  ep.circuit_breaker.edit().failure_threshold = 5;
  ep.circuit_breaker.edit().reset_timeout = 30s;
  return ep;
}

std::uint16_t closed_port() {
  TestServer s;  // bound, then closed when it goes out of scope
  return s.port();
}

struct Events {
  std::mutex m;
  std::vector<std::string> lines;
  EndpointCallbacks callbacks() {
    EndpointCallbacks cb;
    cb.on_breaker = [this](const EndpointState& s, const BreakerTransition& t) {
      const std::string& id = s.id();
      std::lock_guard lock(m);
      lines.push_back(id + " breaker " + std::string(to_string(t.to)) + " " +
                      std::string(to_string(t.reason)));
    };
    cb.on_health = [this](const EndpointState& s, const HealthTransition& t) {
      const std::string& id = s.id();
      std::lock_guard lock(m);
      lines.push_back(id + " health " + std::string(to_string(t.to)));
    };
    return cb;
  }
  std::vector<std::string> get() {
    std::lock_guard lock(m);
    return lines;
  }
};

TEST(HealthChecker, UpOnSuccessesThenDownOpensTheBreaker) {
  TestServer server;
  Events events;
  auto state = std::make_shared<EndpointState>(endpoint("users@v1", server.port()),
                                               RealClock::instance(), events.callbacks());
  HealthChecker checker;
  checker.set_endpoints({state});

  ASSERT_TRUE(eventually([&] { return state->health().status() == Health::up; }));
  const auto up = state->snapshot();
  ASSERT_TRUE(up.last_health_check);
  EXPECT_TRUE(up.last_health_check->ok);
  EXPECT_EQ(up.last_health_check->status, 200);
  EXPECT_TRUE(up.last_health_check->error.empty());
  EXPECT_GE(up.last_health_check->latency_ms, 0.0);
  EXPECT_EQ(up.circuit_breaker.state, BreakerState::closed);
  // The path is absolute on the origin (no /api), Host is the upstream's.
  const std::string req = server.last_request();
  EXPECT_EQ(req.rfind("GET /health HTTP/1.1\r\n", 0), 0u) << req;
  EXPECT_NE(req.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos)
      << req;

  server.set_status(500);
  ASSERT_TRUE(eventually([&] { return state->health().status() == Health::down; }));
  const auto down = state->snapshot();
  EXPECT_EQ(down.circuit_breaker.state, BreakerState::open);
  ASSERT_TRUE(down.last_health_check);
  EXPECT_FALSE(down.last_health_check->ok);
  EXPECT_EQ(down.last_health_check->status, 500);
  EXPECT_EQ(down.last_health_check->error, "status 500 not in 200-399");
  checker.stop();
  const std::vector<std::string> want{"users@v1 health up", "users@v1 health down",
                                      "users@v1 breaker open health_down"};
  EXPECT_EQ(events.get(), want);
}

TEST(HealthChecker, TimeoutIsAFailedCheck) {
  TestServer server;
  server.set_status(0);  // accept, read, never answer
  auto ep = endpoint("slow", server.port());
  ep.health_check.edit().timeout = 100ms;
  auto state = std::make_shared<EndpointState>(ep, RealClock::instance());
  HealthChecker checker;
  checker.set_endpoints({state});
  ASSERT_TRUE(eventually([&] { return state->health().status() == Health::down; }));
  const auto last = state->health().last_check();
  ASSERT_TRUE(last);
  EXPECT_FALSE(last->ok);
  EXPECT_EQ(last->status, 0);
  EXPECT_EQ(last->error, "timeout");
  EXPECT_GE(last->latency_ms, 90.0);
}

TEST(HealthChecker, RefusedConnectionIsAFailedCheck) {
  auto state =
      std::make_shared<EndpointState>(endpoint("gone", closed_port()), RealClock::instance());
  HealthChecker checker;
  checker.set_endpoints({state});
  ASSERT_TRUE(eventually([&] { return state->health().status() == Health::down; }));
  const auto last = state->health().last_check();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->error.rfind("connect: ", 0), 0u) << last->error;
  EXPECT_EQ(state->breaker().state(), BreakerState::open);
}

TEST(HealthChecker, ProbeClosesTheBreakerAfterResetTimeout) {
  TestServer server;
  server.set_status(503);
  auto ep = endpoint("flaky", server.port());
  ep.circuit_breaker.edit().reset_timeout = 200ms;
  Events events;
  auto state = std::make_shared<EndpointState>(ep, RealClock::instance(), events.callbacks());
  HealthChecker checker;
  checker.set_endpoints({state});
  ASSERT_TRUE(eventually([&] { return state->breaker().state() == BreakerState::open; }));
  server.set_status(200);
  // No client traffic at all: a probe after reset_timeout is the trial.
  ASSERT_TRUE(eventually([&] { return state->breaker().state() == BreakerState::closed; }));
  ASSERT_TRUE(eventually([&] { return state->health().status() == Health::up; }));
  checker.stop();
  const auto lines = events.get();
  ASSERT_GE(lines.size(), 4u);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "flaky breaker closed trials_succeeded"),
            lines.end());
}

TEST(HealthChecker, SetEndpointsStartsAndStopsProbes) {
  TestServer a, b;
  auto sa = std::make_shared<EndpointState>(endpoint("a", a.port()), RealClock::instance());
  auto sb = std::make_shared<EndpointState>(endpoint("b", b.port()), RealClock::instance());
  auto off_cfg = endpoint("off", b.port());
  off_cfg.health_check.edit().enabled = false;
  auto off = std::make_shared<EndpointState>(off_cfg, RealClock::instance());
  auto disabled_cfg = endpoint("disabled", b.port());
  disabled_cfg.disabled = true;
  auto disabled = std::make_shared<EndpointState>(disabled_cfg, RealClock::instance());

  HealthChecker checker;
  checker.set_endpoints({sa, off, disabled});
  ASSERT_TRUE(eventually([&] { return checker.active() == 1 && a.requests() >= 2; }));
  EXPECT_EQ(b.requests(), 0);
  EXPECT_EQ(off->health().status(), Health::unknown);

  // Reload: a goes away, b arrives. a keeps no schedule: while b gets three probes
  // (at least 100 ms), a gets at most the one that may have been in flight.
  checker.set_endpoints({sb, off});
  ASSERT_TRUE(eventually([&] { return checker.active() == 1 && b.requests() >= 1; }));
  const int a_after = a.requests();
  const int b_first = b.requests();
  ASSERT_TRUE(eventually([&] { return b.requests() >= b_first + 3; }));
  EXPECT_LE(a.requests(), a_after + 1);

  // The same EndpointState object keeps its loop (and its health) across a reload.
  ASSERT_TRUE(eventually([&] { return sb->health().status() == Health::up; }));
  checker.set_endpoints({sb});
  EXPECT_EQ(sb->health().status(), Health::up);
  checker.stop();
  EXPECT_EQ(checker.active(), 0u);
  checker.stop();  // idempotent
}

TEST(HealthChecker, HttpsWithTheEndpointsTrustStore) {
  TestCert cert("server");
  TestCert other("other");
  TestServer server(&cert);

  auto trusted = endpoint("tls-ok", server.port(), true);
  trusted.tls.edit().ca_file = cert.pem_file();
  auto untrusted = endpoint("tls-bad", server.port(), true);
  untrusted.tls.edit().ca_file = other.pem_file();
  auto unverified = endpoint("tls-noverify", server.port(), true);
  unverified.tls.edit().verify = false;
  auto missing = endpoint("tls-missing", server.port(), true);
  missing.tls.edit().ca_file = "/nonexistent/ca.pem";

  auto s_trusted = std::make_shared<EndpointState>(trusted, RealClock::instance());
  auto s_untrusted = std::make_shared<EndpointState>(untrusted, RealClock::instance());
  auto s_unverified = std::make_shared<EndpointState>(unverified, RealClock::instance());
  auto s_missing = std::make_shared<EndpointState>(missing, RealClock::instance());
  HealthChecker checker;
  checker.set_endpoints({s_trusted, s_untrusted, s_unverified, s_missing});

  ASSERT_TRUE(eventually([&] {
    return s_trusted->health().status() == Health::up &&
           s_unverified->health().status() == Health::up &&
           s_untrusted->health().status() == Health::down &&
           s_missing->health().status() == Health::down;
  }));
  checker.stop();
  EXPECT_EQ(s_trusted->health().last_check()->status, 200);
  const auto bad = s_untrusted->health().last_check();
  EXPECT_EQ(bad->error.rfind("tls: ", 0), 0u) << bad->error;
  EXPECT_NE(bad->error.find("certificate verify failed"), std::string::npos) << bad->error;
  const auto gone = s_missing->health().last_check();
  EXPECT_EQ(gone->error.rfind("tls: cannot load tls.ca_file /nonexistent/ca.pem", 0), 0u)
      << gone->error;
  const std::string req = server.last_request();
  EXPECT_EQ(req.rfind("GET /health HTTP/1.1\r\n", 0), 0u) << req;
}

}  // namespace
