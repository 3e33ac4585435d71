// server/: listeners, sessions, the request pipeline, threads, signals.
// worker.hpp: the per-thread state. Nothing in a Worker is touched by another thread,
// except through asio::post onto its io_context.
#pragma once

#include <memory>
#include <unordered_set>

#include "proxy/io.hpp"
#include "proxy/upstream.hpp"
#include "registry/snapshot.hpp"

namespace gatehouse::server {

class Server;
class Session;

struct Worker {
  explicit Worker(Server& s, unsigned idx)
      : server(s), index(idx), ctx(1), pool(ctx.get_executor()) {}
  ~Worker() { pool.close_all(); }

  // Declaration order matters: `ctx` is destroyed after the objects that use it, and
  // before `sessions`, which sessions still owned by pending handlers erase themselves from.
  Server& server;
  unsigned index;
  std::unordered_set<Session*> sessions;
  boost::asio::io_context ctx;
  std::unique_ptr<net::Acceptor> acceptor;
  net::UpstreamPool pool;
  std::shared_ptr<const registry::Snapshot> snapshot;  // this thread's copy
  std::uint64_t generation = 0;
};

}  // namespace gatehouse::server
