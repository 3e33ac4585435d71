#include "net/read_ready.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <string>

#include "net/readable.hpp"
#include "net/stream.hpp"

namespace gatehouse::net {
namespace {

using namespace std::chrono_literals;

// A stream on one end of a loopback TCP connection, the raw peer socket on the other.
class ReadReady : public ::testing::Test {
 protected:
  ReadReady() : peer_(ioc_.get_executor()) {
    Acceptor acc(ioc_.get_executor(), Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    peer_.connect(acc.local_endpoint());
    Socket s(ioc_.get_executor());
    acc.accept(s);
    stream_ = std::make_unique<Stream>(std::move(s));
    stream_->watch_fin();  // as a kept-alive connection's
  }

  void send(const std::string& bytes) {
    ASSERT_EQ(::send(peer_.native_handle(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }

  struct Read {
    bool done = false;
    error_code ec;
    std::string got;
  };
  // One read_some on the stream, left running on the context.
  Read& start_read() {
    reads_.push_back(std::make_unique<Read>());
    Read& r = *reads_.back();
    asio::co_spawn(ioc_, [this, &r]() -> Task<void> {
      char buf[64];
      auto [ec, n] = co_await stream_->read_some(buf, sizeof buf);
      r.ec = ec;
      r.got.assign(buf, n);
      r.done = true;
    }, asio::detached);
    return r;
  }

  bool run_until(const std::function<bool()>& cond, Clock::duration limit = 5s) {
    const auto end = Clock::now() + limit;
    while (!cond() && Clock::now() < end) {
      ioc_.restart();  // a run that found no work stopped the context
      ioc_.run_one_for(10ms);
    }
    return cond();
  }

  // Lets the reactor report whatever is ready, running no read.
  void poll() {
    auto busy = asio::make_work_guard(ioc_);  // else poll() returns before epoll_wait
    for (int i = 0; i < 5; ++i) {
      ioc_.restart();
      ioc_.poll();
    }
  }

  bool* flag() { return read_ready_flag(stream_->socket()); }
  bool drained() { return known_drained(stream_->socket()); }

  // The next read sees the end of the stream, without waiting for more than a moment.
  void expect_eof_next() {
    Read& r = start_read();
    ASSERT_TRUE(run_until([&] { return r.done; }, 2s));
    EXPECT_EQ(r.ec, asio::error::eof) << r.ec.message();
  }

  // Reads `bytes` through the stream (one read, shorter than it asks for).
  void read_exactly(const std::string& bytes) {
    Read& r = start_read();
    ASSERT_TRUE(run_until([&] { return r.done; }));
    ASSERT_FALSE(r.ec) << r.ec.message();
    ASSERT_EQ(r.got, bytes);
  }

  asio::io_context ioc_{1};
  Socket peer_;
  std::unique_ptr<Stream> stream_;
  std::vector<std::unique_ptr<Read>> reads_;
};

// The build this runs in is the one the flag was checked against (Debian 12's Boost):
// without it the optimisation is silently off, which this catches.
TEST_F(ReadReady, TheReactorFlagIsReachable) {
  ASSERT_NE(flag(), nullptr);
  Read& r = start_read();  // registers nothing new: the socket is registered on creation
  send("x");
  ASSERT_TRUE(run_until([&] { return r.done; }));
  EXPECT_EQ(r.got, "x");
}

TEST_F(ReadReady, AnEmptySocketFoundSoIsMarkedAndTheNextEdgeStillWakesTheRead) {
  ASSERT_NE(flag(), nullptr);
  EXPECT_FALSE(readable_now(stream_->socket()));
  EXPECT_FALSE(*flag());
  Read& r = start_read();
  poll();
  EXPECT_FALSE(r.done);
  send("hello");
  ASSERT_TRUE(run_until([&] { return r.done; }));
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.got, "hello");
  // The reactor's readiness event set the flag again, and the read, shorter than it
  // asked for, marked the socket drained once more.
  EXPECT_FALSE(*flag());
}

TEST_F(ReadReady, BytesThatArrivedBeforeTheLookAreNotLost) {
  send("early");
  ASSERT_TRUE(run_until([&] { return readable_now(stream_->socket()); }));
  Read& r = start_read();
  ASSERT_TRUE(run_until([&] { return r.done; }));
  EXPECT_EQ(r.got, "early");
}

// A FIN behind the bytes, its edge reported with them, is seen by the next read at once:
// the short read's mark, the socket's first, adds the FIN watch, and that modification
// of the epoll registration reports again what is pending.
TEST_F(ReadReady, AFinBehindBytesIsSeenByTheReadAfterAShortOne) {
  send("last");
  ::shutdown(peer_.native_handle(), SHUT_WR);
  // Let the reactor report the edge for both before anything reads.
  ASSERT_TRUE(run_until([&] { return readable_now(stream_->socket()); }));
  poll();
  Read& first = start_read();
  ASSERT_TRUE(run_until([&] { return first.done; }));
  EXPECT_EQ(first.got, "last");
  expect_eof_next();
}

TEST_F(ReadReady, AReadWaitingAfterAnEmptyLookSeesTheFin) {
  EXPECT_FALSE(readable_now(stream_->socket()));
  Read& r = start_read();
  poll();
  ::shutdown(peer_.native_handle(), SHUT_WR);
  ASSERT_TRUE(run_until([&] { return r.done; }, 2s));
  EXPECT_EQ(r.ec, asio::error::eof) << r.ec.message();
}

TEST_F(ReadReady, AShortReadMarksTheSocketDrainedAndTheNextBytesStillWakeTheRead) {
  ASSERT_NE(flag(), nullptr);
  send("first");
  read_exactly("first");  // the first mark adds the FIN watch: nothing was pending
  EXPECT_FALSE(*flag());
  EXPECT_TRUE(drained());
  EXPECT_FALSE(readable_now(stream_->socket()));
  Read& r = start_read();
  poll();
  EXPECT_FALSE(r.done);
  send("second");
  ASSERT_TRUE(run_until([&] { return r.done; }));
  EXPECT_EQ(r.got, "second");
}

// Once watched, the event that reports a FIN says so, and a short read after it does
// not mark the socket drained.
TEST_F(ReadReady, AFinBehindBytesOnAWatchedSocketIsSeen) {
  send("one");
  read_exactly("one");
  ASSERT_TRUE(drained());
  send("two");
  ::shutdown(peer_.native_handle(), SHUT_WR);
  ASSERT_TRUE(run_until([&] { return !drained(); }));
  poll();
  read_exactly("two");
  EXPECT_FALSE(drained());
  EXPECT_TRUE(readable_now(stream_->socket()));
  expect_eof_next();
}

TEST_F(ReadReady, ADrainedSocketIsLookedAtAgainOnceTheLoopReportsBytesOrAFin) {
  send("a");
  read_exactly("a");
  ASSERT_TRUE(drained());
  send("b");
  ASSERT_TRUE(run_until([&] { return !drained(); }));
  EXPECT_TRUE(readable_now(stream_->socket()));
  read_exactly("b");
  ASSERT_TRUE(drained());
  ::shutdown(peer_.native_handle(), SHUT_WR);
  ASSERT_TRUE(run_until([&] { return !drained(); }));
  EXPECT_TRUE(readable_now(stream_->socket()));
}

// A stream of one exchange (not kept alive yet) pays no epoll_ctl for the FIN watch: its
// short reads leave the socket to be tried at once, as Asio would.
TEST_F(ReadReady, AShortReadOnAStreamNotWatchingItsFinMarksNothing) {
  Acceptor acc(ioc_.get_executor(), Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  Socket peer(ioc_.get_executor());
  peer.connect(acc.local_endpoint());
  Socket s(ioc_.get_executor());
  acc.accept(s);
  Stream stream(std::move(s));
  ASSERT_EQ(::send(peer.native_handle(), "hi", 2, MSG_NOSIGNAL), 2);
  bool done = false;
  asio::co_spawn(ioc_, [&]() -> Task<void> {
    char buf[64];
    auto [ec, n] = co_await stream.read_some(buf, sizeof buf);
    EXPECT_FALSE(ec);
    EXPECT_EQ(std::string(buf, n), "hi");
    done = true;
  }, asio::detached);
  ASSERT_TRUE(run_until([&] { return done; }));
  EXPECT_TRUE(*read_ready_flag(stream.socket()));
  EXPECT_FALSE(known_drained(stream.socket()));
}

// A read that fills its buffer is no proof of an empty socket: the rest is read at once.
TEST_F(ReadReady, AFullReadLeavesTheSocketToBeReadAgain) {
  send(std::string(100, 'x'));
  Read& r = start_read();  // 64 bytes
  ASSERT_TRUE(run_until([&] { return r.done; }));
  EXPECT_EQ(r.got.size(), 64u);
  EXPECT_TRUE(*flag());
  read_exactly(std::string(36, 'x'));
}

}  // namespace
}  // namespace gatehouse::net
