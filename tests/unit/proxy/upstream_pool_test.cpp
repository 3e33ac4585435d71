// The per-thread upstream pool over local socket pairs: what acquire() hands out and
// what sweep() closes between requests.
#include "proxy/upstream.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/write.hpp>

namespace gatehouse::proxy {
namespace {

struct Pair {
  std::unique_ptr<UpstreamConn> conn;  // the gateway's end
  int peer = -1;                       // the upstream's end
};

Pair make_pair(asio::io_context& ctx, const std::string& key) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw std::runtime_error("socketpair");
  Socket s(ctx.get_executor());
  s.assign(net::Tcp::v4(), fds[0]);
  Pair p{std::make_unique<UpstreamConn>(std::move(s)), fds[1]};
  p.conn->key = key;
  p.conn->key_hash = std::hash<std::string_view>{}(key);  // as UpstreamPool::connect sets it
  return p;
}

registry::UpstreamServer server_for(const std::string& key) {
  registry::UpstreamServer s;
  s.pool_key = key;
  s.pool_hash = std::hash<std::string_view>{}(key);  // as the snapshot sets it
  return s;
}

TEST(UpstreamPool, SweepClosesConnectionsTheUpstreamClosedOrWroteOn) {
  asio::io_context ctx;
  UpstreamPool pool(ctx.get_executor());
  auto quiet = make_pair(ctx, "a");
  auto closed = make_pair(ctx, "a");
  auto chatty = make_pair(ctx, "b");
  pool.release(std::move(quiet.conn));
  pool.release(std::move(closed.conn));
  pool.release(std::move(chatty.conn));
  ASSERT_EQ(pool.idle_count(), 3u);

  ::close(closed.peer);
  ASSERT_EQ(::write(chatty.peer, "x", 1), 1);
  pool.sweep(Clock::now());
  EXPECT_EQ(pool.idle_count(), 1u);

  // The one left is the quiet one, and still usable.
  auto a = pool.acquire(server_for("a"));
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(::write(quiet.peer, "y", 1), 1);
  EXPECT_TRUE(a->has_unexpected_input());
  EXPECT_EQ(pool.acquire(server_for("b")), nullptr);
  ::close(quiet.peer);
  ::close(chatty.peer);
}

TEST(UpstreamPool, SweepClosesConnectionsIdleTooLong) {
  asio::io_context ctx;
  UpstreamPool pool(ctx.get_executor());
  auto p = make_pair(ctx, "a");
  pool.release(std::move(p.conn));
  pool.sweep(Clock::now() + UpstreamPool::kMaxIdleTime - std::chrono::seconds(1));
  EXPECT_EQ(pool.idle_count(), 1u);
  pool.sweep(Clock::now() + UpstreamPool::kMaxIdleTime);
  EXPECT_EQ(pool.idle_count(), 0u);
  ::close(p.peer);
}

TEST(UpstreamPool, AcquireDropsAConnectionTheUpstreamWroteOnWhileIdle) {
  asio::io_context ctx;
  UpstreamPool pool(ctx.get_executor());
  auto p = make_pair(ctx, "k");
  pool.release(std::move(p.conn));
  ASSERT_EQ(::write(p.peer, "late", 4), 4);  // bytes nobody asked for
  EXPECT_EQ(pool.acquire(server_for("k")), nullptr);
  EXPECT_EQ(pool.idle_count(), 0u);
  ::close(p.peer);
}

TEST(UpstreamPool, AcquireSkipsAConnectionClosedSinceTheLastSweep) {
  asio::io_context ctx;
  UpstreamPool pool(ctx.get_executor());
  auto older = make_pair(ctx, "a");
  auto newer = make_pair(ctx, "a");
  pool.release(std::move(older.conn));
  pool.release(std::move(newer.conn));
  ::close(newer.peer);  // the most recently used, handed out first, is gone
  auto got = pool.acquire(server_for("a"));
  ASSERT_NE(got, nullptr);
  EXPECT_FALSE(got->has_unexpected_input());
  EXPECT_EQ(pool.idle_count(), 0u);
  ::close(older.peer);
}

}  // namespace
}  // namespace gatehouse::proxy
