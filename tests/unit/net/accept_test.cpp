#include "net/accept.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace gatehouse::net {
namespace {

using namespace std::chrono_literals;

// A listening socket on loopback set up as Server::bind_all does it.
Acceptor listener(asio::io_context& ioc, const asio::ip::address& address) {
  Acceptor a(ioc.get_executor(), Tcp::endpoint(address, 0));
  a.non_blocking(true);
  a.set_option(Tcp::no_delay(true));
  return a;
}

// Connects a blocking client to `a` and returns it with the connection in a's queue.
Tcp::socket connect_to(asio::io_context& client_ioc, Acceptor& a) {
  Tcp::socket c(client_ioc);
  c.connect(a.local_endpoint());
  return c;
}

int flags_of(Socket& s) { return ::fcntl(s.native_handle(), F_GETFL); }

TEST(Accept, NoneWaitingIsWouldBlock) {
  asio::io_context ioc;
  auto a = listener(ioc, asio::ip::make_address("127.0.0.1"));
  error_code ec;
  EXPECT_FALSE(accept_one(a, ec));
  EXPECT_EQ(ec, asio::error::would_block);
}

void expect_accepted_as_asio_expects(const char* address) {
  asio::io_context ioc, client_ioc;
  auto a = listener(ioc, asio::ip::make_address(address));
  auto client = connect_to(client_ioc, a);
  error_code ec;
  auto got = accept_one(a, ec);
  ASSERT_TRUE(got) << ec.message();
  EXPECT_FALSE(ec);
  // The peer is the client's own address and port, as getpeername says.
  EXPECT_EQ(got->peer, client.local_endpoint());
  EXPECT_EQ(got->peer, got->socket.remote_endpoint());
  // Non-blocking and close-on-exec from accept4; Asio knows it is non-blocking, so its
  // first operation makes no ioctl.
  EXPECT_TRUE(flags_of(got->socket) & O_NONBLOCK);
  EXPECT_TRUE(::fcntl(got->socket.native_handle(), F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(got->socket.native_non_blocking());
  // TCP_NODELAY came from the listening socket (the gateway sets it nowhere else).
  int nodelay = 0;
  socklen_t len = sizeof nodelay;
  ASSERT_EQ(::getsockopt(got->socket.native_handle(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_EQ(nodelay, 1);

  // Asynchronous I/O works on it: a read that must wait, then the answer.
  std::string seen;
  asio::co_spawn(ioc.get_executor(), [&]() -> Task<void> {
    char buf[16];
    auto [rec, n] = co_await got->socket.async_read_some(asio::buffer(buf), use_task);
    if (rec) co_return;
    seen.assign(buf, n);
    auto [wec, m] = co_await asio::async_write(got->socket, asio::buffer("pong", 4), use_task);
    (void)wec;
    (void)m;
  }, asio::detached);
  ioc.poll();
  EXPECT_TRUE(seen.empty());
  asio::write(client, asio::buffer("ping", 4));
  ioc.run_for(2s);
  EXPECT_EQ(seen, "ping");
  char answer[4];
  asio::read(client, asio::buffer(answer));
  EXPECT_EQ(std::string(answer, 4), "pong");
}

TEST(Accept, Ipv4ConnectionIsNonBlockingWithItsPeer) { expect_accepted_as_asio_expects("127.0.0.1"); }

TEST(Accept, Ipv6ConnectionIsNonBlockingWithItsPeer) { expect_accepted_as_asio_expects("::1"); }

TEST(Accept, ClosingTakesTheDescriptorOutOfTheEventLoop) {
  // Closed without epoll_ctl DEL, the descriptor must still leave the epoll set: a new
  // connection that gets the same descriptor number is served, and the old one's
  // pending operation ended with the close.
  asio::io_context ioc, client_ioc;
  auto a = listener(ioc, asio::ip::make_address("127.0.0.1"));
  auto c1 = connect_to(client_ioc, a);
  error_code ec;
  auto first = accept_one(a, ec);
  ASSERT_TRUE(first);
  const int fd = first->socket.native_handle();
  error_code first_result;
  bool first_done = false;
  char buf[8];
  first->socket.async_read_some(asio::buffer(buf), [&](const error_code& e, std::size_t) {
    first_result = e;
    first_done = true;
  });
  ioc.poll();
  auto c2 = connect_to(client_ioc, a);  // queued: its client's descriptor is taken first
  first->socket.close();
  ioc.run_for(100ms);
  EXPECT_TRUE(first_done);
  EXPECT_EQ(first_result, asio::error::operation_aborted);

  auto second = accept_one(a, ec);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->socket.native_handle(), fd);  // the lowest free number again
  std::size_t got = 0;
  second->socket.async_read_some(asio::buffer(buf), [&](const error_code& e, std::size_t n) {
    if (!e) got = n;
  });
  ioc.poll();
  asio::write(c2, asio::buffer("hi", 2));
  ioc.restart();
  ioc.run_for(2s);
  EXPECT_EQ(got, 2u);
}

TEST(Accept, OutOfDescriptorsLeavesTheConnectionQueued) {
  asio::io_context ioc, client_ioc;
  auto a = listener(ioc, asio::ip::make_address("127.0.0.1"));
  auto client = connect_to(client_ioc, a);
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // No descriptor free under the limit: it is the lowest free number.
  const int lowest_free = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(lowest_free, 0);
  ::close(lowest_free);
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(lowest_free);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  error_code ec;
  auto got = accept_one(a, ec);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  EXPECT_FALSE(got);
  EXPECT_EQ(ec.value(), EMFILE);
  // Once descriptors are free again the same connection is taken.
  got = accept_one(a, ec);
  ASSERT_TRUE(got) << ec.message();
  EXPECT_EQ(got->peer, client.local_endpoint());
}

}  // namespace
}  // namespace gatehouse::net
