// What an idle keep-alive connection costs once it has parked: the heap it still holds,
// counted by the allocator (not RSS), over a few hundred real socket connections. A
// parked connection keeps its socket, its Connection object and its deadline; the
// request state, the buffers and every coroutine frame go back to the worker.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "net/frame_pool.hpp"
#include "server/connection.hpp"
#include "server/server.hpp"
#include "server/worker.hpp"

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer's allocator (its allocator_interface.h does not ship with g++).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace gatehouse::server {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr const char* kConfig = R"(listen: 127.0.0.1:18998
threads: 1
endpoints:
  - url: http://127.0.0.1:9/api
    name: orders
    health_check: false
)";

// Bytes the program holds on the heap (whatever the arena, and mmapped blocks).
std::size_t heap_in_use() {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  const auto m = ::mallinfo2();
  return m.uordblks + m.hblkhd;
#endif
}

// The client end of one connection: a plain non-blocking descriptor (not an Asio
// socket, so it allocates nothing in the gateway's event loop).
struct Client {
  int fd = -1;
  std::string got;
  ~Client() {
    if (fd >= 0) ::close(fd);
  }
  void send(const std::string& s) const {
    ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size())) << std::strerror(errno);
  }
  void read_available() {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return;
      got.append(buf, static_cast<std::size_t>(n));
    }
  }
};

// A keep-alive request the gateway answers itself (no route: 404), so no upstream and
// no connector are involved.
const std::string kRequest = "GET /nowhere HTTP/1.1\r\nHost: shop\r\n\r\n";

struct IdleMemoryTest : ::testing::Test {
  void SetUp() override {
    auto r = config::load_from_string(kConfig, "/tmp/idle_memory_test.yaml");
    ASSERT_TRUE(r.config) << (r.errors.empty() ? "" : r.errors.front().to_string());
    server = std::make_unique<Server>(std::make_shared<const config::Config>(std::move(*r.config)),
                                      Options{});
    std::string error;
    ASSERT_TRUE(server->prepare(1, error)) << error;
    worker = &server->worker(0);
  }
  void TearDown() override {
    connections.clear();
    clients.clear();  // the gateway's ends see EOF and close
    run_until([&] { return worker->connections.empty(); });
  }

  // A connection served by a Connection of the worker.
  Client& open() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    net::Socket gateway_end(worker->ctx.get_executor());
    gateway_end.assign(net::Tcp::v4(), fds[0]);
    ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
    const net::Tcp::endpoint peer(asio::ip::make_address("127.0.0.1"), 40000);
    auto conn = std::make_shared<Connection>(*worker, std::move(gateway_end), peer);
    asio::co_spawn(worker->ctx, conn->run(), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
    connections.push_back(conn);  // run() takes its own reference once it starts
    clients.push_back(std::make_unique<Client>());
    clients.back()->fd = fds[1];
    return *clients.back();
  }
  template <class Done>
  bool run_until(Done done) {
    for (int i = 0; i < 300 && !done(); ++i) {
      worker->ctx.restart();
      worker->ctx.run_for(10ms);
    }
    return done();
  }
  // Every client has its whole answer (the 404 is written in one piece).
  bool all_answered(std::size_t from, std::size_t answers) {
    for (std::size_t i = from; i < clients.size(); ++i) {
      auto& c = *clients[i];
      c.read_available();
      std::size_t count = 0;
      for (auto at = c.got.find("HTTP/1.1 404 "); at != std::string::npos;
           at = c.got.find("HTTP/1.1 404 ", at + 1))
        ++count;
      if (count < answers) return false;
    }
    return true;
  }
  // The worker's spares and the frame pool as after a quiet second: what stayed unused
  // is freed, so only what connections hold is left.
  void settle() {
    worker->ctx.restart();
    worker->ctx.run_for(20ms);
    worker->sweep_spares();
    worker->sweep_spares();
    net::frame_pool::release_unused();
  }

  std::unique_ptr<Server> server;
  Worker* worker = nullptr;
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::shared_ptr<Connection>> connections;
};

TEST_F(IdleMemoryTest, AParkedConnectionHoldsLittleMoreThanItsSocket) {
  // Warm up: one connection through a request and its trim, and closed again, so caches
  // that fill once (the allocator's, Asio's) are part of the baseline.
  open().send(kRequest);
  ASSERT_TRUE(run_until([&] { return all_answered(0, 1); }));
  worker->trim_idle_connections(net::Clock::now() + 1s);
  clients.clear();
  connections.clear();
  ASSERT_TRUE(run_until([&] { return worker->connections.empty(); }));
  constexpr std::size_t kConnections = 256;
  clients.reserve(kConnections);
  connections.reserve(kConnections);
  settle();
  const std::size_t before = heap_in_use();

  for (std::size_t i = 0; i < kConnections; ++i) open().send(kRequest);
  ASSERT_TRUE(run_until([&] { return all_answered(0, 1); }));
  // Idle long enough: every one is asked to give its buffers back.
  EXPECT_EQ(worker->trim_idle_connections(net::Clock::now() + 1s), kConnections);
  settle();
  ASSERT_EQ(worker->connections.size(), kConnections);
  const std::size_t per_connection = (heap_in_use() - before) / kConnections;
  // The Connection object (with its control block), its deadline with the pending timer
  // operation, the readiness wait's operation, the reactor's descriptor state and the
  // connection set's node, with the allocator's overhead: about 1.35 KiB. A connection
  // that kept its request state (about 1.7 KiB) or waited inside its coroutines (their
  // frames, about 900 bytes) is well over this.
  EXPECT_LE(per_connection, 1600u) << "heap bytes per parked connection";

  // Parked, they still serve: the next request on each is answered.
  for (auto& c : clients) c->send(kRequest);
  EXPECT_TRUE(run_until([&] { return all_answered(0, 2); }));
}

}  // namespace
}  // namespace gatehouse::server
