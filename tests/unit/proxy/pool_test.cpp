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

}  // namespace
}  // namespace gatehouse::proxy
