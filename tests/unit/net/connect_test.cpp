#include "net/connect.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "net/deadline.hpp"

namespace gatehouse::net {
namespace {

using namespace std::chrono_literals;

template <class F>
void run_task(asio::io_context& ioc, F make) {
  bool finished = false;
  asio::co_spawn(ioc.get_executor(), [&]() -> Task<void> {
    co_await make();
    finished = true;
  }, asio::detached);
  ioc.run_for(10s);
  ASSERT_TRUE(finished);
}

TEST(Deadline, CancelsAnyCancellableObject) {
  asio::io_context ioc;
  auto deadline = std::make_shared<Deadline>(ioc.get_executor());
  Timer long_wait(ioc.get_executor());
  error_code result;
  run_task(ioc, [&]() -> Task<void> {
    long_wait.expires_after(30s);
    deadline->arm(Clock::now() + 20ms, &long_wait);
    auto [ec] = co_await long_wait.async_wait(use_task);
    result = ec;
    deadline->stop();
  });
  EXPECT_EQ(result, asio::error::operation_aborted);
  EXPECT_TRUE(deadline->fired());
}

TEST(Deadline, DisarmedDoesNotFire) {
  asio::io_context ioc;
  auto deadline = std::make_shared<Deadline>(ioc.get_executor());
  Timer wait(ioc.get_executor());
  error_code result = asio::error::operation_aborted;
  run_task(ioc, [&]() -> Task<void> {
    deadline->arm(Clock::now() + 10ms, &wait);
    deadline->disarm();
    wait.expires_after(50ms);
    auto [ec] = co_await wait.async_wait(use_task);
    result = ec;
    deadline->stop();
  });
  EXPECT_FALSE(result);
  EXPECT_FALSE(deadline->fired());
}

TEST(Connect, RefusedPortSaysRefused) {
  asio::io_context ioc;
  // A port that was just free: nothing listens there.
  Acceptor probe(ioc.get_executor(), Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = probe.local_endpoint().port();
  probe.close();
  Resolver resolver(ioc.get_executor());
  Socket socket(ioc.get_executor());
  ConnectError got = ConnectError::none;
  error_code why;
  run_task(ioc, [&]() -> Task<void> {
    got = co_await connect(resolver, socket, "127.0.0.1", port, Clock::now() + 2s, &why);
  });
  EXPECT_EQ(got, ConnectError::refused);
  EXPECT_EQ(why, asio::error::connection_refused);
  EXPECT_EQ(to_string(got), "refused");
}

TEST(Connect, ListeningPortConnectsWithNoDelay) {
  asio::io_context ioc;
  Acceptor acceptor(ioc.get_executor(), Tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  Resolver resolver(ioc.get_executor());
  Socket socket(ioc.get_executor());
  ConnectError got = ConnectError::timeout;
  run_task(ioc, [&]() -> Task<void> {
    got = co_await connect(resolver, socket, "127.0.0.1", acceptor.local_endpoint().port(),
                           Clock::now() + 2s);
  });
  ASSERT_EQ(got, ConnectError::none);
  Tcp::no_delay nd;
  socket.get_option(nd);
  EXPECT_TRUE(nd.value());
}

TEST(TlsClient, MissingTrustStoreIsAnError) {
  std::string error;
  const std::string missing = "/nonexistent/ca.pem";
  EXPECT_EQ(make_client_context(true, &missing, error), nullptr);
  EXPECT_EQ(error.rfind("cannot load tls.ca_file /nonexistent/ca.pem", 0), 0u) << error;
  error.clear();
  EXPECT_NE(make_client_context(false, &missing, error), nullptr);  // not read without verify
  EXPECT_TRUE(error.empty());
}

}  // namespace
}  // namespace gatehouse::net
