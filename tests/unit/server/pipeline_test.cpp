// The request pipeline's phases, driven without the network: the client is one end of a
// socket pair inside the test, and the upstream connections come from a scripted
// UpstreamConnector. Each test checks what the client got and what the connector (the
// only way to an upstream) was asked for.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <cstdlib>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "server/connection.hpp"
#include "server/server.hpp"
#include "server/worker.hpp"
#include "socket_pair.hpp"

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* kConfig = R"(listen: 127.0.0.1:18999
threads: 1
auth:
  jwt:
    algorithms: [HS256]
    hmac_secret_env: PIPELINE_TEST_SECRET
endpoints:
  - url: http://127.0.0.1:9/api
    name: orders
    methods: [GET, POST]
    health_check: false
    circuit_breaker: { failure_threshold: 2, reset_timeout: 60s }
  - url: http://127.0.0.1:9/secure
    name: secure
    auth_type: jwt
    health_check: false
  - url: [http://127.0.0.1:9/m, http://127.0.0.2:9/m]
    name: multi
    health_check: false
    retries: { attempts: 1 }
    circuit_breaker: { failure_threshold: 100 }
)";

using testing::socket_pair;

// Reads one request head (and a Content-Length body) from `s`.
net::Task<std::string> read_request(net::Socket& s) {
  std::string got;
  char buf[4096];
  for (;;) {
    const auto end = got.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::size_t body = 0;
      const auto cl = got.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) body = std::stoul(got.substr(cl + 16));
      if (got.size() >= end + 4 + body) co_return got;
    }
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), net::use_task);
    if (ec) co_return got;
    got.append(buf, n);
  }
}

// What one scripted upstream connection does.
struct Script {
  std::string response;     // sent after the request was read
  bool answer = true;       // false: read the request, then close without a byte
};

struct FakeConnector final : proxy::UpstreamConnector {
  explicit FakeConnector(asio::io_context& c) : ctx(c) {}

  std::unique_ptr<proxy::UpstreamConn> acquire(const registry::UpstreamServer&) override {
    ++acquires;
    if (idle.empty()) return nullptr;
    auto conn = std::move(idle.front());
    idle.pop_front();
    return conn;
  }
  net::Task<std::tuple<net::ConnectError, std::unique_ptr<proxy::UpstreamConn>>> connect(
      const registry::UpstreamServer& server, const config::Endpoint&,
      net::Clock::time_point) override {
    ++connects;
    connected_to.push_back(server.pool_key);
    if (refuse || refused_keys.count(server.pool_key))
      co_return std::tuple{net::ConnectError::refused, nullptr};
    Script s = scripts.empty() ? Script{} : scripts.front();
    if (!scripts.empty()) scripts.pop_front();
    co_return std::tuple{net::ConnectError::none, open(std::move(s))};
  }
  void release(std::unique_ptr<proxy::UpstreamConn>) override { ++releases; }

  // A connection whose far end runs `s`.
  std::unique_ptr<proxy::UpstreamConn> open(Script s) {
    auto [near, far] = socket_pair(ctx);
    auto peer = std::make_shared<net::Socket>(std::move(far));
    asio::co_spawn(ctx, serve(peer, std::move(s)), asio::detached);
    return std::make_unique<proxy::UpstreamConn>(std::move(near));
  }
  net::Task<void> serve(std::shared_ptr<net::Socket> peer, Script s) {
    auto request = co_await read_request(*peer);
    requests.push_back(request);
    if (s.answer) {
      co_await asio::async_write(*peer, asio::buffer(s.response), net::use_task);
    }
    net::error_code ignored;
    peer->close(ignored);
  }

  asio::io_context& ctx;
  std::deque<std::unique_ptr<proxy::UpstreamConn>> idle;
  std::deque<Script> scripts;
  bool refuse = false;
  std::set<std::string> refused_keys;    // servers (pool keys) that refuse
  std::vector<std::string> connected_to;  // pool key of every connect, in order
  int acquires = 0, connects = 0, releases = 0;
  std::vector<std::string> requests;
};

const std::string kOk = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

struct PipelineTest : ::testing::Test {
  void SetUp() override {
    ::setenv("PIPELINE_TEST_SECRET", "0123456789abcdef0123456789abcdef", 1);
    auto r = config::load_from_string(kConfig, "/tmp/pipeline_test.yaml");
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors.front().to_string());
    server = std::make_unique<Server>(std::make_shared<const config::Config>(std::move(*r.config)),
                                      Options{});
    std::string error;
    ASSERT_TRUE(server->prepare(1, error)) << error;
    worker = &server->worker(0);
    connector = std::make_unique<FakeConnector>(worker->ctx);
    worker->connector = connector.get();
  }
  void TearDown() override {
    connections.clear();
    connector->idle.clear();
    worker->ctx.run_for(100ms);
  }

  // Sends `request` as a client on a new connection; returns everything the gateway
  // wrote until it closed the connection.
  std::string send(const std::string& request) {
    auto [gateway_end, client_end] = socket_pair(worker->ctx);
    // The client's address is the one accept reported (a local socket pair has none).
    auto conn = std::make_shared<Connection>(*worker, std::move(gateway_end), peer);
    asio::co_spawn(worker->ctx, conn->run(), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    connections.push_back(conn);  // run() takes its own reference once it starts
    auto got = std::make_shared<std::string>();
    asio::co_spawn(worker->ctx,
                   client(std::make_shared<net::Socket>(std::move(client_end)), request, got),
                   [](std::exception_ptr e) {
                     if (e) std::rethrow_exception(e);
                   });
    worker->ctx.restart();
    worker->ctx.run_for(3s);
    worker->ctx.restart();
    return *got;
  }
  // Parameters by value: they live in the coroutine's frame.
  static net::Task<void> client(std::shared_ptr<net::Socket> s, std::string request,
                                std::shared_ptr<std::string> got) {
    co_await asio::async_write(*s, asio::buffer(request), net::use_task);
    char buf[4096];
    for (;;) {
      auto [ec, n] = co_await s->async_read_some(asio::buffer(buf), net::use_task);
      if (ec) break;
      got->append(buf, n);
    }
  }
  health::EndpointState& state(std::size_t i) {
    return *server->snapshot(*worker)->endpoints[i].state();
  }

  std::unique_ptr<Server> server;
  Worker* worker = nullptr;
  std::unique_ptr<FakeConnector> connector;
  std::vector<std::shared_ptr<Connection>> connections;
  net::Tcp::endpoint peer{asio::ip::make_address("192.0.2.7"), 40000};
};

TEST_F(PipelineTest, ForwardsThroughTheConnectorAndGivesTheConnectionBack) {
  connector->scripts.push_back({kOk});
  const auto got = send("GET /orders/7?x=1 HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_TRUE(got.ends_with("\r\n\r\nhello")) << got;
  EXPECT_NE(got.find("X-Request-Id: "), std::string::npos);
  ASSERT_EQ(connector->requests.size(), 1u);
  const auto& up = connector->requests[0];
  EXPECT_TRUE(up.starts_with("GET /api/7?x=1 HTTP/1.1\r\n")) << up;  // prefix stripped
  EXPECT_NE(up.find("Host: 127.0.0.1:9\r\n"), std::string::npos) << up;
  EXPECT_NE(up.find("X-Forwarded-Prefix: /orders\r\n"), std::string::npos) << up;
  EXPECT_NE(up.find("X-Forwarded-For: 192.0.2.7\r\n"), std::string::npos) << up;
  EXPECT_EQ(connector->acquires, 1);
  EXPECT_EQ(connector->connects, 1);
  EXPECT_EQ(connector->releases, 1);  // a complete keep-alive exchange is pooled
  EXPECT_EQ(state(0).snapshot().requests_total, 1u);
}

TEST_F(PipelineTest, NoRouteIsAnsweredWithoutAnyUpstream) {
  const auto got = send("GET /nowhere HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 404 ")) << got;
  EXPECT_NE(got.find("application/problem+json"), std::string::npos);
  EXPECT_NE(got.find("\"no_route\""), std::string::npos) << got;
  EXPECT_EQ(connector->acquires + connector->connects, 0);
}

TEST_F(PipelineTest, MethodNotAllowedCarriesAllowAndTheEndpoint) {
  const auto got = send("DELETE /orders/1 HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 405 ")) << got;
  EXPECT_NE(got.find("\r\nAllow: "), std::string::npos) << got;
  EXPECT_NE(got.find("\"endpoint\":\"orders\""), std::string::npos) << got;
  EXPECT_EQ(connector->connects, 0);
}

TEST_F(PipelineTest, AuthenticationRefusesBeforeTheBreakerAndTheUpstream) {
  const auto got = send("GET /secure/x HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 401 ")) << got;
  EXPECT_NE(got.find("WWW-Authenticate: Bearer"), std::string::npos) << got;
  EXPECT_EQ(connector->acquires + connector->connects, 0);
  EXPECT_EQ(state(1).snapshot().requests_total, 0u);  // never admitted
}

TEST_F(PipelineTest, MalformedChunkedBodyIsRefusedBeforeAnyUpstream) {
  const auto got = send("POST /orders HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "zz\r\nbad\r\n0\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 400 ")) << got;
  EXPECT_NE(got.find("malformed chunked body"), std::string::npos) << got;
  EXPECT_EQ(connector->acquires + connector->connects, 0);
}

TEST_F(PipelineTest, ConnectFailureIs502AndCountsOnceForTheBreaker) {
  connector->refuse = true;
  const auto got = send("GET /orders HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 502 ")) << got;
  EXPECT_EQ(connector->connects, 1);
  const auto s = state(0).snapshot();
  EXPECT_EQ(s.circuit_breaker.consecutive_failures, 1u);
  EXPECT_EQ(s.requests_failed, 1u);
}

TEST_F(PipelineTest, OpenBreakerAnswersTheFallbackWithoutTheConnector) {
  connector->refuse = true;
  send("GET /orders HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  send("GET /orders HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(connector->connects, 2);
  const auto got = send("GET /orders HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 503 ")) << got;
  EXPECT_NE(got.find("\r\nRetry-After: "), std::string::npos) << got;
  EXPECT_NE(got.find("\"circuit_open\""), std::string::npos) << got;
  EXPECT_EQ(connector->connects, 2);
  EXPECT_EQ(connector->acquires, 2);
}

TEST_F(PipelineTest, FailureStatusIsRelayedAndRecordedOnce) {
  connector->scripts.push_back({"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"});
  const auto got = send("GET /orders HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 503 Busy\r\n")) << got;
  EXPECT_TRUE(got.ends_with("busy")) << got;
  const auto s = state(0).snapshot();
  EXPECT_EQ(s.circuit_breaker.consecutive_failures, 1u);
  EXPECT_EQ(s.requests_total, 1u);
  EXPECT_EQ(s.requests_failed, 1u);
}

TEST_F(PipelineTest, StaleReusedConnectionIsRetriedOnceForAnIdempotentRequest) {
  connector->idle.push_back(connector->open({"", false}));  // reads, then closes
  connector->scripts.push_back({kOk});
  const auto got = send("GET /orders HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_EQ(connector->acquires, 1);
  EXPECT_EQ(connector->connects, 1);
  EXPECT_EQ(connector->requests.size(), 2u);  // the stale one saw it, then the fresh one
  EXPECT_EQ(state(0).snapshot().circuit_breaker.consecutive_failures, 0u);
}

TEST_F(PipelineTest, StaleReusedConnectionIsNeverRetriedForAPost) {
  connector->idle.push_back(connector->open({"", false}));
  connector->scripts.push_back({kOk});
  const auto got = send("POST /orders HTTP/1.1\r\nHost: shop\r\nContent-Length: 0\r\n"
                        "Connection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 502 ")) << got;
  EXPECT_EQ(connector->connects, 0);  // sent once, on the reused connection only
  EXPECT_EQ(connector->requests.size(), 1u);
}

TEST_F(PipelineTest, ResponseOfUnknownLengthIsChunkedForAnHttp11Client) {
  connector->scripts.push_back({"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nstreamed"});
  const auto got = send("GET /orders HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_NE(got.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << got;
  EXPECT_TRUE(got.ends_with("\r\n\r\n8\r\nstreamed\r\n0\r\n\r\n")) << got;
  EXPECT_EQ(connector->releases, 0);  // read to its close: not reusable
}

// The retry loop (SPEC 13): a connect failure goes on to the other server, with the
// other server's Host; each try counts for its own server.
TEST_F(PipelineTest, ConnectFailureIsRetriedOnTheOtherServer) {
  connector->refused_keys.insert("http://127.0.0.1:9");
  connector->scripts.push_back({kOk});
  std::string got;
  // Round robin: one of the first two requests picks the refusing server first.
  for (int i = 0; i < 2; ++i) {
    got = send("GET /multi/1 HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got;
    connector->scripts.push_back({kOk});
  }
  ASSERT_EQ(connector->connected_to.size(), 3u);
  EXPECT_EQ(std::count(connector->connected_to.begin(), connector->connected_to.end(),
                       "http://127.0.0.1:9"), 1);
  ASSERT_EQ(connector->requests.size(), 2u);
  for (const auto& up : connector->requests)
    EXPECT_NE(up.find("Host: 127.0.0.2:9\r\n"), std::string::npos) << up;
  const auto& ep = server->snapshot(*worker)->endpoints[2];
  EXPECT_EQ(ep.servers[0].state->snapshot().requests_failed, 1u);
  EXPECT_EQ(ep.servers[1].state->snapshot().requests_total, 2u);
  EXPECT_EQ(ep.stats->totals().requests_total, 2u);  // client requests, not tries
  EXPECT_EQ(ep.stats->totals().requests_failed, 0u);
}

// A 503 held back at its head: the client never sees it, the retry answers.
TEST_F(PipelineTest, FailureStatusIsHeldBackAndRetriedElsewhere) {
  connector->scripts.push_back({"HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy"});
  connector->scripts.push_back({kOk});
  const auto got = send("GET /multi/1 HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_EQ(got.find("busy"), std::string::npos) << got;
  ASSERT_EQ(connector->connected_to.size(), 2u);
  EXPECT_NE(connector->connected_to[0], connector->connected_to[1]);  // another server
  EXPECT_EQ(connector->releases, 1);  // only the relayed exchange's connection is pooled
}

}  // namespace
}  // namespace gatehouse::server

namespace gatehouse::server {
namespace {

TEST_F(PipelineTest, WebSocketHandshakeBecomesATunnelAndTheConnectionIsNeverPooled) {
  connector->scripts.push_back({"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Accept: abc=\r\n\r\n"
                                "EARLY"});
  const auto got = send("GET /orders/chat HTTP/1.1\r\nHost: shop\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: a2V5a2V5a2V5a2V5a2V5aw==\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 101 Switching Protocols\r\n")) << got;
  EXPECT_NE(got.find("\r\nUpgrade: websocket\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("\r\nConnection: upgrade\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("\r\nSec-WebSocket-Accept: abc=\r\n"), std::string::npos) << got;
  EXPECT_TRUE(got.ends_with("\r\n\r\nEARLY")) << got;  // the tunnel's first bytes
  ASSERT_EQ(connector->requests.size(), 1u);
  const auto& up = connector->requests[0];
  EXPECT_NE(up.find("\r\nUpgrade: websocket\r\n"), std::string::npos) << up;
  EXPECT_NE(up.find("\r\nConnection: upgrade\r\n"), std::string::npos) << up;
  EXPECT_NE(up.find("\r\nSec-WebSocket-Key: a2V5a2V5a2V5a2V5a2V5aw==\r\n"), std::string::npos) << up;
  EXPECT_EQ(connector->releases, 0);  // never back to the pool
  const auto st = state(0).snapshot();
  EXPECT_EQ(st.requests_total, 1u);
  EXPECT_EQ(st.requests_failed, 0u);  // the 101 counted as a success
  const auto& m = *server->snapshot(*worker)->endpoints[0].metrics;
  EXPECT_EQ(m.tunnels_total(), 1u);
  EXPECT_EQ(m.tunnels_open(), 0);
}

TEST_F(PipelineTest, UnaskedSwitchingProtocolsIs502) {
  connector->scripts.push_back({"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"});
  const auto got = send("GET /orders HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 502 ")) << got;
  EXPECT_EQ(connector->releases, 0);
}

TEST_F(PipelineTest, WebSocketOnlyOnGetOverHttp11AndOtherUpgradesAre501) {
  auto got = send("POST /orders HTTP/1.1\r\nHost: shop\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade, close\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 400 ")) << got;
  got = send("GET /orders HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 400 ")) << got;
  got = send("GET /orders HTTP/1.1\r\nHost: shop\r\nUpgrade: h2c\r\nConnection: Upgrade, close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 501 ")) << got;
  EXPECT_EQ(connector->acquires + connector->connects, 0);
}

}  // namespace
}  // namespace gatehouse::server
