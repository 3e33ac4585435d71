#include "net/splice.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <csignal>
#include <string>

namespace gatehouse::net {
namespace {

using namespace std::chrono_literals;

// Two connected loopback TCP sockets: splice needs real stream sockets.
struct TcpPair {
  Socket a, b;
  explicit TcpPair(asio::io_context& ioc) : a(ioc.get_executor()), b(ioc.get_executor()) {
    Acceptor acc(ioc.get_executor(), Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    a.connect(acc.local_endpoint());
    acc.accept(b);
  }
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 4093) % 26);
  return s;
}

// Socket buffers far below the body (and below what the pipe takes in one round).
void small_buffers(Socket& s) {
  s.set_option(asio::socket_base::receive_buffer_size(32 * 1024));
  s.set_option(asio::socket_base::send_buffer_size(32 * 1024));
}

class Splice : public ::testing::Test {
 protected:
  void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }  // as the server does

  template <class F>
  void spawn(F make) {
    asio::co_spawn(ioc.get_executor(), make, asio::detached);
  }
  void run() { ioc.run_for(20s); }

  asio::io_context ioc;
  PipePool pool{4};
};

// Reads `n` bytes from `s` (after `delay`) into `out`.
Task<void> read_n(Socket& s, std::size_t n, std::string& out, Clock::duration delay = {}) {
  if (delay > Clock::duration::zero()) {
    Timer t(co_await asio::this_coro::executor);
    t.expires_after(delay);
    co_await t.async_wait(use_task);
  }
  out.resize(n);
  auto [ec, got] = co_await asio::async_read(s, asio::buffer(out), use_task);
  out.resize(got);
}

TEST_F(Splice, MovesExactlyTheCountInOrderAndLeavesWhatFollows) {
  TcpPair src(ioc), dst(ioc);
  const std::string body = pattern(300 * 1024);
  const std::string after = "GET /next HTTP/1.1\r\n\r\n";
  std::string got, rest;
  SpliceResult result;
  bool done = false;
  const std::string sent = body + after;
  spawn([&]() -> Task<void> {
    [[maybe_unused]] auto [ec, n] = co_await asio::async_write(src.a, asio::buffer(sent), use_task);
  });
  spawn([&]() -> Task<void> { co_await read_n(dst.b, body.size(), got); });
  spawn([&]() -> Task<void> {
    SplicePipe pipe = pool.take();
    EXPECT_TRUE(pipe);
    result = co_await pipe.relay({src.b}, {dst.a}, body.size());
    EXPECT_EQ(pipe.held(), 0u);
    pool.give(std::move(pipe));
    co_await read_n(src.b, after.size(), rest);
    done = true;
  });
  run();
  ASSERT_TRUE(done);
  EXPECT_FALSE(result.ec);
  EXPECT_EQ(result.taken, body.size());
  EXPECT_EQ(result.delivered, body.size());
  EXPECT_TRUE(got == body);
  EXPECT_EQ(rest, after);  // the bytes after the count stayed in the source
  EXPECT_EQ(pool.idle(), 1u);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST_F(Splice, WaitsForASlowSinkWithThePipeFull) {
  TcpPair src(ioc), dst(ioc);
  small_buffers(dst.a);
  small_buffers(dst.b);
  const std::string body = pattern(2 * 1024 * 1024);
  std::string got;
  SpliceResult result;
  spawn([&]() -> Task<void> {
    [[maybe_unused]] auto [ec, n] = co_await asio::async_write(src.a, asio::buffer(body), use_task);
  });
  // The sink reads nothing for a while: the relay must wait, never lose or reorder.
  spawn([&]() -> Task<void> { co_await read_n(dst.b, body.size(), got, 200ms); });
  spawn([&]() -> Task<void> {
    SplicePipe pipe = pool.take();
    result = co_await pipe.relay({src.b}, {dst.a}, body.size());
    pool.give(std::move(pipe));
  });
  run();
  EXPECT_FALSE(result.ec);
  EXPECT_EQ(result.delivered, body.size());
  ASSERT_EQ(got.size(), body.size());
  EXPECT_TRUE(got == body);
}

TEST_F(Splice, SourceEndingInsideTheBodyIsTheSourcesFailure) {
  TcpPair src(ioc), dst(ioc);
  const std::string part = pattern(1000);
  std::string got;
  SpliceResult result;
  spawn([&]() -> Task<void> {
    [[maybe_unused]] auto [ec, n] = co_await asio::async_write(src.a, asio::buffer(part), use_task);
    src.a.shutdown(Socket::shutdown_send);
  });
  spawn([&]() -> Task<void> { co_await read_n(dst.b, part.size(), got); });
  spawn([&]() -> Task<void> {
    SplicePipe pipe = pool.take();
    result = co_await pipe.relay({src.b}, {dst.a}, 5000);
    pool.give(std::move(pipe));
  });
  run();
  EXPECT_EQ(result.ec, asio::error::eof);
  EXPECT_TRUE(result.source_failed);
  EXPECT_EQ(result.taken, part.size());
  EXPECT_EQ(got, part);
}

TEST_F(Splice, SinkIdleLimitEndsTheRelayAndAPipeWithBytesIsNeverLentAgain) {
  TcpPair src(ioc), dst(ioc);
  small_buffers(dst.a);
  small_buffers(dst.b);
  const std::string body = pattern(2 * 1024 * 1024);
  auto deadline = std::make_shared<Deadline>(ioc.get_executor());
  SpliceResult result;
  std::size_t held = 0;
  spawn([&]() -> Task<void> {
    [[maybe_unused]] auto [ec, n] = co_await asio::async_write(src.a, asio::buffer(body), use_task);
  });
  spawn([&]() -> Task<void> {
    SplicePipe pipe = pool.take();
    // The sink never reads: after 50 ms without progress on it the relay gives up.
    result = co_await pipe.relay({src.b}, {dst.a, deadline.get(), 50ms}, body.size());
    held = pipe.held();
    pool.give(std::move(pipe));
    deadline->stop();
    src.a.close();
  });
  run();
  EXPECT_EQ(result.ec, asio::error::operation_aborted);
  EXPECT_FALSE(result.source_failed);
  EXPECT_TRUE(deadline->fired());
  EXPECT_GT(held, 0u);
  EXPECT_EQ(pool.idle(), 0u) << "a pipe holding another relay's bytes went back to the pool";
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_LT(result.delivered, body.size());
}

TEST_F(Splice, ExchangeDeadlineOnTheSourceStopsTheRelay) {
  TcpPair src(ioc), dst(ioc);
  auto deadline = std::make_shared<Deadline>(ioc.get_executor());
  SpliceResult result;
  const std::string part(100, 'x');
  spawn([&]() -> Task<void> {
    [[maybe_unused]] auto [ec, n] = co_await asio::async_write(src.a, asio::buffer(part), use_task);
  });
  spawn([&]() -> Task<void> {
    SplicePipe pipe = pool.take();
    deadline->arm(Clock::now() + 50ms, &src.b);  // armed by the caller, for the whole relay
    result = co_await pipe.relay({src.b, deadline.get()}, {dst.a}, 1000);
    pool.give(std::move(pipe));
    deadline->stop();
  });
  run();
  EXPECT_TRUE(result.ec);
  EXPECT_TRUE(result.source_failed);
  EXPECT_TRUE(deadline->fired());
  EXPECT_EQ(result.taken, 100u);
}

TEST_F(Splice, SinkResetIsTheSinksFailure) {
  TcpPair src(ioc), dst(ioc);
  const std::string body = pattern(8 * 1024 * 1024);
  SpliceResult result;
  dst.b.set_option(asio::socket_base::linger(true, 0));
  dst.b.close();  // reset: the relay's writes fail
  spawn([&]() -> Task<void> {
    [[maybe_unused]] auto [ec, n] = co_await asio::async_write(src.a, asio::buffer(body), use_task);
  });
  spawn([&]() -> Task<void> {
    SplicePipe pipe = pool.take();
    result = co_await pipe.relay({src.b}, {dst.a}, body.size());
    pool.give(std::move(pipe));
    src.a.close();
  });
  run();
  EXPECT_TRUE(result.ec);
  EXPECT_FALSE(result.source_failed);
  EXPECT_LT(result.delivered, body.size());
}

TEST(PipePool, LendsUpToItsLimitReusesEmptyPipesAndSweepsIdleOnes) {
  PipePool pool(2);
  SplicePipe a = pool.take();
  SplicePipe b = pool.take();
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_FALSE(pool.take()) << "past the limit the caller uses its buffer";
  pool.give(std::move(a));
  EXPECT_EQ(pool.idle(), 1u);
  SplicePipe c = pool.take();
  EXPECT_TRUE(c);
  EXPECT_EQ(pool.idle(), 0u);
  pool.give(std::move(b));
  pool.give(std::move(c));
  EXPECT_EQ(pool.idle(), 2u);
  pool.sweep();  // both were in use since the last sweep: kept
  EXPECT_EQ(pool.idle(), 2u);
  pool.sweep();  // unused for a whole period: freed
  EXPECT_EQ(pool.idle(), 0u);
}

}  // namespace
}  // namespace gatehouse::net
