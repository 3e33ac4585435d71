#include "proxy/upstream.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

namespace gatehouse::proxy {
namespace {

// Two connected loopback TCP sockets.
struct TcpPair {
  Socket a, b;
  explicit TcpPair(asio::io_context& ioc) : a(ioc.get_executor()), b(ioc.get_executor()) {
    net::Acceptor acc(ioc.get_executor(), net::Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    a.connect(acc.local_endpoint());
    acc.accept(b);
  }
};

void wait_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
}

registry::UpstreamServer server_with_key(const std::string& key) {
  registry::UpstreamServer s;
  s.pool_key = key;
  return s;
}

TEST(UpstreamPool, IdleConnectionThatReceivesBytesIsDropped) {
  asio::io_context ioc;
  TcpPair upstream(ioc);
  const int pooled_fd = upstream.a.native_handle();
  UpstreamPool pool(ioc.get_executor());
  auto conn = std::make_unique<UpstreamConn>(std::move(upstream.a));
  conn->key = "k";
  pool.release(std::move(conn));
  ioc.poll();
  ASSERT_EQ(::send(upstream.b.native_handle(), "late", 4, 0), 4);
  wait_readable(pooled_fd);
  ioc.run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(pool.acquire(server_with_key("k")), nullptr);
}

// The readiness of a batch of events is applied after earlier handlers of the same batch
// ran: bytes reported readable may be gone (taken by the exchange that just ended) when
// the idle connection's watch hears of them. That connection is still good.
TEST(UpstreamPool, StaleReadinessDoesNotDropAnIdleConnection) {
  asio::io_context ioc;
  TcpPair upstream(ioc);
  TcpPair other(ioc);
  Socket& pooled = upstream.a;
  const int pooled_fd = pooled.native_handle();
  UpstreamPool pool(ioc.get_executor());
  auto conn = std::make_unique<UpstreamConn>(std::move(pooled));
  conn->key = "k";
  pool.release(std::move(conn));
  ioc.poll();

  // `other` becomes readable first, then the pooled connection: one batch, in that order.
  // Handling `other` takes the pooled connection's bytes before its own event is handled.
  bool took = false;
  other.a.async_wait(Socket::wait_read, [&](const error_code&) {
    char buf[16];
    took = ::recv(pooled_fd, buf, sizeof buf, MSG_DONTWAIT) == 1;
  });
  ASSERT_EQ(::send(other.b.native_handle(), "o", 1, 0), 1);
  ASSERT_EQ(::send(upstream.b.native_handle(), "x", 1, 0), 1);
  pollfd p[2] = {{other.a.native_handle(), POLLIN, 0}, {pooled_fd, POLLIN, 0}};
  for (int i = 0; i < 100 && !((p[0].revents & POLLIN) && (p[1].revents & POLLIN)); ++i)
    ::poll(p, 2, 50);
  ioc.run_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(took);
  EXPECT_NE(pool.acquire(server_with_key("k")), nullptr)
      << "an idle connection was dropped for readiness whose bytes were already taken";
}

}  // namespace
}  // namespace gatehouse::proxy
