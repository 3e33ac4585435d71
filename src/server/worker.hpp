// server/: listeners, connections, the request pipeline, threads, signals.
// worker.hpp: the per-thread state. Nothing in a Worker is touched by another thread,
// except through asio::post onto its io_context.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "balance/rng.hpp"
#include "net/io.hpp"
#include "net/splice.hpp"
#include "proxy/upstream.hpp"
#include "ratelimit/phase.hpp"
#include "registry/snapshot.hpp"

namespace gatehouse::server {

class Server;
class Connection;
class Pipeline;
// Deletes a Pipeline (pipeline.cpp), so that this header needs only its declaration.
struct PipelineDelete {
  void operator()(Pipeline* p) const noexcept;
};
using PipelinePtr = std::unique_ptr<Pipeline, PipelineDelete>;

struct Worker {
  // Only this thread performs I/O on the worker's sockets and timers (other threads
  // post to it), so the reactor's per-descriptor locks are switched off; posting still
  // locks the scheduler.
  explicit Worker(Server& s, unsigned idx)
      : server(s),
        index(idx),
        ctx(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
        pool(ctx.get_executor()),
        connector(&pool) {}
  ~Worker() { pool.close_all(); }

  // Declaration order matters: `ctx` is destroyed after the objects that use it, and
  // before `connections`, which connections still owned by pending handlers erase themselves from.
  Server& server;
  unsigned index;
  std::unordered_set<Connection*> connections;
  boost::asio::io_context ctx;
  std::unique_ptr<net::Acceptor> acceptor;
  proxy::UpstreamPool pool;
  proxy::UpstreamConnector* connector;  // the pool, or a test's scripted fake
  ratelimit::ThreadContext rate_limits{ctx.get_executor()};  // Redis connections, key buffers
  balance::Rng rng{seed()};  // the retry backoff's jitter
  std::shared_ptr<const registry::Snapshot> snapshot;  // this thread's copy
  std::uint64_t generation = 0;

  // Buffers a request needs only while it is being proxied (the upstream response head,
  // the body relay): lent to connections per request, so an idle keep-alive connection
  // holds none of them. The request buffer is lent too, and given back once the
  // connection has been idle for a moment (Connection::trim_if_idle).
  static constexpr std::size_t kReadBuffer = 1024;
  static constexpr std::size_t kHeadBuffer = 4 * 1024;
  static constexpr std::size_t kRelayBuffer = 64 * 1024;

  // A LIFO free list that keeps as many entries as the load needs: every sweep (about
  // once a second) frees the ones that stayed unused since the previous sweep, the
  // oldest (coldest) first; the hot end of the stack stays. At most Max are kept.
  template <class T, std::size_t Max = SIZE_MAX>
  struct FreeList {
    std::vector<T> free;
    std::size_t low_water = 0;  // fewest free entries seen since the last sweep

    bool take(T& out) {
      if (free.empty()) {
        low_water = 0;
        return false;
      }
      out = std::move(free.back());
      free.pop_back();
      if (free.size() < low_water) low_water = free.size();
      return true;
    }
    void give(T&& x) {
      if (free.size() < Max) free.push_back(std::move(x));
    }
    void sweep() {
      free.erase(free.begin(), free.begin() + static_cast<std::ptrdiff_t>(low_water));
      low_water = free.size();
    }
  };
  // Buffers of one size: a new one when none is free; one of another size (grown) is
  // freed rather than kept.
  struct Spares : FreeList<std::vector<char>> {
    void take(std::vector<char>& out, std::size_t size) {
      if (!FreeList::take(out)) out.resize(size);
    }
    void give(std::vector<char>& buf, std::size_t size) {
      if (buf.size() == size) FreeList::give(std::move(buf));
      buf = std::vector<char>();
    }
  };
  // The state of a request (server/pipeline.hpp), lent to a connection while it reads
  // or serves requests, with the capacity its containers grew to: a parked connection
  // gives it back, a new or woken one takes one, so bursts of connections reuse them.
  FreeList<PipelinePtr, 4096> spare_pipelines;

  Spares spare_reads;  // connections lend theirs back while idle
  Spares spare_heads;
  Spares spare_relays;

  static std::uint64_t seed() {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd();
  }

  // Frees the spares that stayed unused since the last sweep.
  void sweep_spares() {
    spare_reads.sweep();
    spare_pipelines.sweep();
    spare_heads.sweep();
    spare_relays.sweep();
    net::PipePool::this_thread().sweep();
  }
  // Connections idle for a moment give their read buffers back (as nginx does for
  // keep-alive connections): thousands of idle clients then cost little memory.
  // Returns how many were asked to (connection.cpp).
  std::size_t trim_idle_connections(net::Clock::time_point now);
};

}  // namespace gatehouse::server
