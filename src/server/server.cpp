#include "server/server.hpp"

#include <malloc.h>
#include <pthread.h>
#include <cerrno>
#include <csignal>
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include "logging/log.hpp"
#include "net/accept.hpp"
#include "net/frame_pool.hpp"
#include "net/tls_memory.hpp"
#include "server/connection.hpp"

namespace gatehouse::server {

namespace asio = boost::asio;

namespace {

void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

}  // namespace

Server::Server(std::shared_ptr<const config::Config> cfg, Options options)
    : startup_config_(std::move(cfg)), config_path_(startup_config_->path), options_(options) {
  // One line per transition (SPEC section 9). Opening is a warning; recovering is info.
  // With several servers the line names the server too (`target`, its URL).
  callbacks_.on_breaker = [](const health::EndpointState& s, const health::BreakerTransition& t) {
    const logging::Level level =
        t.to == health::BreakerState::open ? logging::Level::warning : logging::Level::info;
    if (!logging::enabled(level)) return;
    const std::string_view id = s.id();
    const auto from = health::to_string(t.from), to = health::to_string(t.to);
    const auto reason = health::to_string(t.reason);
    const auto failures = static_cast<std::int64_t>(t.consecutive_failures);
    if (s.several())
      logging::write(level, "circuit breaker transition",
                     {{"endpoint", id}, {"target", std::string_view(s.target())}, {"from", from},
                      {"to", to}, {"reason", reason}, {"consecutive_failures", failures}});
    else
      logging::write(level, "circuit breaker transition",
                     {{"endpoint", id}, {"from", from}, {"to", to}, {"reason", reason},
                      {"consecutive_failures", failures}});
  };
  callbacks_.on_health = [](const health::EndpointState& s, const health::HealthTransition& t) {
    const logging::Level level =
        t.to == health::Health::down ? logging::Level::warning : logging::Level::info;
    if (!logging::enabled(level)) return;
    const std::string_view id = s.id();
    const auto from = health::to_string(t.from), to = health::to_string(t.to);
    if (s.several())
      logging::write(level, "health transition",
                     {{"endpoint", id}, {"target", std::string_view(s.target())}, {"from", from},
                      {"to", to}, {"reason", std::string_view(t.reason)}});
    else
      logging::write(level, "health transition",
                     {{"endpoint", id}, {"from", from}, {"to", to},
                      {"reason", std::string_view(t.reason)}});
  };
}

Server::~Server() = default;

bool Server::bind_all(std::string& error) {
  const auto& cfg = *startup_config_;
  net::error_code ec;
  const auto address = asio::ip::make_address(cfg.listen_host, ec);
  if (ec) {
    error = "listen: invalid address " + cfg.listen_host;
    return false;
  }
  const net::Tcp::endpoint endpoint(address, cfg.listen_port);
  {
    // SO_REUSEPORT would let us share the port with another process started on the same
    // address by mistake: bind once without it first to find out.
    net::Tcp::acceptor probe(workers_.front()->ctx);
    probe.open(endpoint.protocol(), ec);
    if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(endpoint, ec);
    if (ec) {
      error = "cannot listen on " + cfg.listen + ": " + ec.message();
      return false;
    }
  }
  for (auto& w : workers_) {
    auto acceptor = std::make_unique<net::Acceptor>(w->ctx.get_executor());
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) {
      const int one = 1;
      if (::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
        ec.assign(errno, boost::system::system_category());
    }
    if (!ec) acceptor->bind(endpoint, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    // accept_loop takes connections with accept4 until none is left; accepted sockets
    // inherit TCP_NODELAY from here (no setsockopt per connection).
    if (!ec) acceptor->non_blocking(true, ec);
    if (!ec) acceptor->set_option(net::Tcp::no_delay(true), ec);
    if (ec) {
      error = "cannot listen on " + cfg.listen + ": " + ec.message();
      return false;
    }
    w->acceptor = std::move(acceptor);
  }
  return true;
}

net::Task<void> Server::accept_loop(Worker& w) {
  net::Timer pause(w.ctx.get_executor());
  // The live config's limit: a reload may change it.
  auto max_conn = [&] { return static_cast<std::int64_t>(snapshot(w)->config->limits.max_connections); };
  // Connections taken per turn before the loop lets this thread's other work run (the
  // rest are taken right after, without waiting for readiness).
  constexpr int kAcceptBatch = 32;
  while (!draining()) {
    // Over the limit: stop accepting; new connections wait in the kernel backlog.
    while (connections_open.load(std::memory_order_relaxed) >= max_conn() && !draining()) {
      pause.expires_after(std::chrono::milliseconds(10));
      co_await pause.async_wait(net::use_task);
    }
    if (draining()) break;
    net::error_code ec;
    int taken = 0;
    while (taken < kAcceptBatch && connections_open.load(std::memory_order_relaxed) < max_conn()) {
      auto accepted = net::accept_one(*w.acceptor, ec);
      if (!accepted) {
        // A connection reset or aborted while it waited concerns it alone.
        if (ec == asio::error::connection_aborted || ec == asio::error::interrupted ||
            ec.value() == EPROTO) {
          ec.clear();
          continue;
        }
        break;
      }
      ++taken;
      std::make_shared<Connection>(w, std::move(accepted->socket), accepted->peer)->resume();
    }
    if (draining()) break;
    if (ec == asio::error::would_block) {
      // None left: wait for the next one (Asio re-arms the descriptor for the wait, so
      // one that came since the last accept4 is reported at once).
      auto [wec] = co_await w.acceptor->async_wait(net::Acceptor::wait_read, net::use_task);
      if (wec == asio::error::operation_aborted || draining()) break;
      if (wec) {
        pause.expires_after(std::chrono::milliseconds(50));
        co_await pause.async_wait(net::use_task);
      }
      continue;
    }
    if (ec.value() == EMFILE || ec.value() == ENFILE || ec.value() == ENOBUFS ||
        ec.value() == ENOMEM) {
      logging::warning("accept failed; pausing", {{"error", std::string_view(ec.message())}});
      pause.expires_after(std::chrono::milliseconds(50));
      co_await pause.async_wait(net::use_task);
      continue;
    }
    if (ec) {
      // The listening socket itself failed (closed by the drain, or worse).
      if (draining() || ec == asio::error::bad_descriptor) break;
      pause.expires_after(std::chrono::milliseconds(50));
      co_await pause.async_wait(net::use_task);
      continue;
    }
    // A full batch, or the limit reached: let the thread's other work run first.
    co_await asio::post(w.ctx.get_executor(), net::use_task);
  }
}

net::Task<void> Server::housekeeping(Worker& w) {
  net::Timer timer(w.ctx.get_executor());
  MemoryReturn memory;
  for (unsigned tick = 1;; ++tick) {
    timer.expires_after(std::chrono::milliseconds(100));
    auto [ec] = co_await timer.async_wait(net::use_task);
    if (ec) co_return;
    // Access-log lines are buffered per thread; they reach stderr within this period.
    logging::flush_thread_access_log();
    memory.trimmed += w.trim_idle_connections(net::Clock::now());
    if (tick % 10 == 0) {
      w.sweep_spares();
      w.pool.sweep(net::Clock::now());
      memory.after_sweep(w.connections.size());
    } else {
      memory.between_sweeps();
    }
  }
}

void Server::MemoryReturn::after_sweep(std::size_t connections) {
  // After a peak (many connections trimmed or gone) the frames and buffers it needed go
  // back to the allocator, and free pages to the kernel on the next tick.
  if (trimmed >= 256 || connections_before >= connections + 256) {
    net::frame_pool::release_unused();
    net::tls_memory::release_unused();
    trim_heap_soon = true;
  }
  trimmed = 0;
  connections_before = connections;
}

void Server::MemoryReturn::between_sweeps() {
  if (!trim_heap_soon) return;
  // The trimmed connections have freed their buffers by now; hand whole free pages back
  // to the kernel so RSS follows.
  trim_heap_soon = false;
  ::malloc_trim(0);
}

void Server::start_draining() {
  if (draining_.exchange(true)) return;
  logging::info("shutdown requested: draining",
                {{"in_flight", static_cast<std::int64_t>(requests_active.load())}});
  for (auto& w : workers_) {
    asio::post(w->ctx, [wp = w.get()] {
      net::error_code ignored;
      if (wp->acceptor) wp->acceptor->close(ignored);
      // Copy: closing may end connections, which erase themselves from the set.
      std::vector<Connection*> open(wp->connections.begin(), wp->connections.end());
      for (auto* c : open) c->close_if_idle();
    });
  }
}

void Server::close_tunnels() {
  for (auto& w : workers_) {
    asio::post(w->ctx, [wp = w.get()] {
      std::vector<Connection*> open(wp->connections.begin(), wp->connections.end());
      for (auto* c : open) c->close_tunnel();
    });
  }
  const auto until = net::Clock::now() + std::chrono::seconds(1);
  while (tunnels_active.load() > 0 && net::Clock::now() < until)
    control_.run_one_for(std::chrono::milliseconds(10));
}

void Server::trim_after_retired() {
  const auto now = net::Clock::now();
  if (trim_again_at_ && now >= *trim_again_at_) {
    // What outlived the snapshot by a moment (endpoint states the health checker let go
    // of on its own thread, requests that were still finishing) is free by now too.
    trim_again_at_.reset();
    ::malloc_trim(0);
  }
  if (retired_.empty()) return;
  // A snapshot no request and no worker holds any more is freed here, on this thread.
  if (retired_.release() == 0) return;
  // A snapshot of a large config is gone (its last request finished, every worker took
  // the new one): hand its memory back to the kernel now, not at some later peak.
  ::malloc_trim(0);
  trim_again_at_ = now + std::chrono::seconds(1);
}

namespace {
void set_control_signals(int how) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(how, &set, nullptr);
}
}  // namespace

void block_control_signals() { set_control_signals(SIG_BLOCK); }

bool Server::prepare(unsigned threads, std::string& error) {
  metrics_ = std::make_unique<metrics::Registry>(threads);
  auto snap = registry::build_snapshot(startup_config_, 1, 1, nullptr, RealClock::instance(),
                                       callbacks_, error, metrics_.get());
  if (!snap) return false;
  metrics_->loaded(RealClock::instance().system_now());
  current_.store(snap);
  generation_.store(1);
  for (unsigned i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>(*this, i));
  return true;
}

int Server::run() {
  raise_fd_limit();
  const auto& cfg = *startup_config_;
  unsigned threads = cfg.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());

  std::string error;
  if (!prepare(threads, error)) {
    logging::error("cannot start", {{"error", std::string_view(error)}});
    return 1;
  }
  auto snap = current_.load();
  if (!bind_all(error)) {
    logging::error("cannot start", {{"error", std::string_view(error)}});
    return 1;
  }

  // Signals are taken on the control context run by the main thread.
  asio::signal_set signals(control_, SIGTERM, SIGINT, SIGHUP);
  std::function<void(const net::error_code&, int)> on_signal =
      [this, &signals, &on_signal](const net::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          reload("signal");
          signals.async_wait(on_signal);
          return;
        }
        logging::info("signal received", {{"signal", static_cast<std::int64_t>(sig)}});
        start_draining();
      };
  signals.async_wait(on_signal);
  ::signal(SIGPIPE, SIG_IGN);
  if (cfg.watch) set_watch(true);

  std::vector<std::thread> pool;
  for (auto& w : workers_) {
    asio::co_spawn(w->ctx.get_executor(), accept_loop(*w), asio::detached);
    asio::co_spawn(w->ctx.get_executor(), housekeeping(*w), asio::detached);
    pool.emplace_back([wp = w.get()] {
      auto guard = asio::make_work_guard(wp->ctx);
      wp->ctx.run();
      logging::flush_thread_access_log();
    });
  }
  checker_ = std::make_unique<health::HealthChecker>(RealClock::instance());
  // Every thread has been started with the control signals blocked: from now on only
  // this thread (the control loop's) takes them.
  set_control_signals(SIG_UNBLOCK);
  checker_->set_endpoints(registry::states_of(*snap));
  ready_.store(true);
  logging::info("gatehouse started",
                {{"listen", std::string_view(cfg.listen)},
                 {"threads", static_cast<std::int64_t>(threads)},
                 {"endpoints", static_cast<std::int64_t>(snap->routes->size())},
                 {"config", std::string_view(cfg.path)},
                 {"version", GATEHOUSE_VERSION}});
  // current_ owns the first snapshot and its config from now on, so a reload that
  // replaces them frees them (a large first config is not kept for the process's life).
  snap.reset();
  startup_config_.reset();

  // Wait for a signal, then for in-flight requests to finish (up to shutdown_grace).
  while (!draining()) {
    control_.run_one_for(std::chrono::milliseconds(200));
    trim_after_retired();
  }
  // Stopping already: further SIGTERM/SIGINT stay pending until the process has exited.
  set_control_signals(SIG_BLOCK);
  set_watch(false);
  const auto grace_end = net::Clock::now() + current_.load()->config->shutdown_grace;
  while (requests_active.load() > 0 && net::Clock::now() < grace_end)
    control_.run_one_for(std::chrono::milliseconds(20));
  const auto left = requests_active.load();
  if (left > 0)
    logging::warning("shutdown grace expired", {{"in_flight", static_cast<std::int64_t>(left)}});
  if (tunnels_active.load() > 0) close_tunnels();

  checker_->stop();
  for (auto& w : workers_) w->ctx.stop();
  for (auto& t : pool) t.join();
  for (auto& w : workers_) w->pool.close_all();
  logging::info("gatehouse stopped");
  logging::flush();
  return 0;
}

}  // namespace gatehouse::server
