// The tunnel over socket pairs: one pair stands for the client's connection, one for the
// upstream's; the test plays both far ends.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>

#include "server/tunnel.hpp"
#include "socket_pair.hpp"

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

using testing::socket_pair;

net::Task<std::string> read_to_eof(net::Socket& s) {
  std::string got;
  char buf[4096];
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), net::use_task);
    if (ec) co_return got;
    got.append(buf, n);
  }
}

struct TunnelTest : ::testing::Test {
  TunnelTest() {
    auto [c_near, c_far] = socket_pair(ctx);
    auto [u_near, u_far] = socket_pair(ctx);
    client = std::make_unique<net::Stream>(std::move(c_near));
    upstream = std::make_unique<net::Stream>(std::move(u_near));
    client_far = std::make_unique<net::Socket>(std::move(c_far));
    upstream_far = std::make_unique<net::Socket>(std::move(u_far));
  }
  // Runs the tunnel (and whatever the test spawned) until it ends or `limit` passes.
  void run(Tunnel& t, std::string ahead = {}, std::chrono::milliseconds limit = 5000ms) {
    asio::co_spawn(ctx, [&t, ahead, this]() -> net::Task<void> {
      co_await t.run(ahead);
      done = true;
    }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done && std::chrono::steady_clock::now() < until) ctx.run_for(20ms);
  }

  asio::io_context ctx{1};
  std::unique_ptr<net::Stream> client, upstream;
  std::unique_ptr<net::Socket> client_far, upstream_far;
  bool done = false;
};

TEST_F(TunnelTest, BytesFlowBothWaysAndEachHalfCloseIsPassedOn) {
  Tunnel t(*client, *upstream, 5s);
  std::string at_upstream, at_client;
  asio::co_spawn(ctx, [&]() -> net::Task<void> {
    co_await asio::async_write(*client_far, asio::buffer(std::string_view("hello")), net::use_task);
    client_far->shutdown(net::Socket::shutdown_send);  // the client's half-close ...
    at_client = co_await read_to_eof(*client_far);
  }, [](std::exception_ptr) {});
  asio::co_spawn(ctx, [&]() -> net::Task<void> {
    at_upstream = co_await read_to_eof(*upstream_far);  // ... reaches the upstream as EOF,
    // which can still answer: its own half-close ends the tunnel.
    co_await asio::async_write(*upstream_far, asio::buffer(std::string_view("world!")), net::use_task);
    upstream_far->shutdown(net::Socket::shutdown_send);
  }, [](std::exception_ptr) {});
  run(t, "ahead:");
  ASSERT_TRUE(done);
  EXPECT_EQ(at_upstream, "ahead:hello");
  EXPECT_EQ(at_client, "world!");
  EXPECT_EQ(t.bytes_up(), 11u);
  EXPECT_EQ(t.bytes_down(), 6u);
  EXPECT_EQ(t.end(), Tunnel::End::closed);
}

TEST_F(TunnelTest, IdleTunnelIsClosedAfterTheIdleTime) {
  Tunnel t(*client, *upstream, 200ms);
  const auto start = std::chrono::steady_clock::now();
  run(t);
  ASSERT_TRUE(done);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_EQ(t.end(), Tunnel::End::idle);
}

TEST_F(TunnelTest, TrafficKeepsItOpenPastTheIdleTime) {
  Tunnel t(*client, *upstream, 300ms);
  int relayed = 0;
  asio::co_spawn(ctx, [&]() -> net::Task<void> {
    net::Timer timer(ctx.get_executor());
    char buf[1];
    for (int i = 0; i < 8; ++i) {  // 8 x 100 ms: well past 300 ms in all
      timer.expires_after(100ms);
      co_await timer.async_wait(net::use_task);
      co_await asio::async_write(*client_far, asio::buffer("x", 1), net::use_task);
      auto [ec, n] = co_await upstream_far->async_read_some(asio::buffer(buf), net::use_task);
      if (!ec && n == 1) ++relayed;
    }
  }, [](std::exception_ptr) {});
  run(t);
  ASSERT_TRUE(done);
  EXPECT_EQ(relayed, 8);
  EXPECT_EQ(t.end(), Tunnel::End::idle);  // closed once the traffic stopped
}

TEST_F(TunnelTest, CloseEndsBothDirections) {
  Tunnel t(*client, *upstream, 10s);
  net::Timer timer(ctx.get_executor());
  timer.expires_after(50ms);
  timer.async_wait([&](const net::error_code&) { t.close(Tunnel::End::shutdown); });
  run(t);
  ASSERT_TRUE(done);
  EXPECT_EQ(t.end(), Tunnel::End::shutdown);
}

TEST_F(TunnelTest, APeerThatStopsReadingStopsTheOtherSidesReads) {
  Tunnel t(*client, *upstream, 10s);
  std::size_t offered = 0;
  constexpr std::size_t kOffer = 64 * 1024 * 1024;
  asio::co_spawn(ctx, [&]() -> net::Task<void> {
    std::string chunk(64 * 1024, 'u');
    while (offered < kOffer) {
      auto [ec, n] = co_await client_far->async_write_some(asio::buffer(chunk), net::use_task);
      if (ec) co_return;
      offered += n;
    }
  }, [](std::exception_ptr) {});
  // The upstream end never reads: after a while nothing moves any more.
  net::Timer timer(ctx.get_executor());
  timer.expires_after(500ms);
  timer.async_wait([&](const net::error_code&) { t.close(Tunnel::End::shutdown); });
  run(t);
  ASSERT_TRUE(done);
  EXPECT_LT(offered, kOffer);
  // What went through is what the two socket buffers hold, plus at most one relay buffer.
  int sndbuf = 0, rcvbuf = 0;
  socklen_t len = sizeof sndbuf;
  ::getsockopt(upstream->socket().native_handle(), SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
  ::getsockopt(upstream_far->native_handle(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
  EXPECT_LE(t.bytes_up(), static_cast<std::uint64_t>(sndbuf + rcvbuf) + Tunnel::kBuffer);
}

}  // namespace
}  // namespace gatehouse::server
