// server/: listeners, connections, the request pipeline, threads, signals.
#pragma once

#include <atomic>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "admin/admin.hpp"
#include "config/config.hpp"
#include "health/health_checker.hpp"
#include "metrics/registry.hpp"
#include "registry/retired.hpp"
#include "registry/snapshot.hpp"
#include "server/reload.hpp"
#include "server/watcher.hpp"
#include "server/worker.hpp"

namespace gatehouse::server {

struct Options {
  bool insecure_admin = false;
  std::string log_level_override;  // from --log-level or GATEHOUSE_LOG_LEVEL; "" = config
};

// SIGTERM, SIGINT and SIGHUP blocked on the calling thread (and the threads it starts
// afterwards). run() takes them on the main thread only, and blocks them again once it
// is stopping: a second SIGTERM during the drain (systemd, the kubelet, a script) can
// neither kill the process (exit 143) nor cut its last log lines.
void block_control_signals();

class Server {
 public:
  Server(std::shared_ptr<const config::Config> cfg, Options options);
  ~Server();

  // Binds, serves until SIGTERM/SIGINT, drains, returns the process exit code.
  int run();
  // What run() does before it binds: the metrics, the first snapshot, the workers (not
  // started). The pipeline's tests drive a worker of a prepared server by hand.
  bool prepare(unsigned threads, std::string& error);
  Worker& worker(unsigned i) { return *workers_[i]; }

  // The current snapshot for a worker: a relaxed load of the generation per request,
  // an atomic shared_ptr load only when it changed. The pointer returned shares a
  // control block owned by this worker alone, so copying it per request never bounces
  // a cache line between threads; a request keeps its copy until it ends, so in-flight
  // requests finish on the snapshot they started with.
  const std::shared_ptr<const registry::Snapshot>& snapshot(Worker& w) {
    const auto gen = generation_.load(std::memory_order_acquire);
    if (w.generation != gen) {
      auto holder = std::make_shared<std::shared_ptr<const registry::Snapshot>>(current_.load());
      w.snapshot = std::shared_ptr<const registry::Snapshot>(holder, holder->get());
      w.generation = gen;
    }
    return w.snapshot;
  }

  // Re-reads the config file and applies it (SPEC section 7). Runs on the control
  // thread; serialised. `trigger` is "api", "signal" or "watch".
  ReloadOutcome reload(std::string_view trigger);
  // The same from a worker's coroutine: the work runs on the control thread so a large
  // file never stalls an event loop.
  net::Task<ReloadOutcome> reload_from_worker();

  // What the stats API says about the loaded config.
  admin::ConfigInfo config_info() const {
    auto snap = current_.load();
    return admin::ConfigInfo{snap->config->path, snap->config_version, snap->loaded_at,
                             snap->config->sha256};
  }

  bool draining() const { return draining_.load(std::memory_order_relaxed); }
  bool ready() const { return ready_.load(std::memory_order_relaxed); }
  const Options& options() const { return options_; }

  // Process-wide metrics; one shard per worker (valid once run() started).
  metrics::Registry& metrics() { return *metrics_; }

  // Counters kept by connections.
  std::atomic<std::int64_t> connections_open{0};
  std::atomic<std::int64_t> requests_active{0};
  std::atomic<std::int64_t> tunnels_active{0};  // WebSocket tunnels (counted in requests too)

 private:
  bool bind_all(std::string& error);
  void apply_log_settings(const config::Config& cfg);
  void set_watch(bool on);
  void start_draining();
  // After shutdown_grace: closes the WebSocket tunnels still open and waits a moment
  // for their last lines.
  void close_tunnels();
  net::Task<void> accept_loop(Worker& w);
  // Per worker, every 100 ms: access-log lines out, idle connections trimmed; every
  // second: unused spare buffers freed, and memory returned to the kernel after a peak.
  net::Task<void> housekeeping(Worker& w);
  struct MemoryReturn {
    std::size_t trimmed = 0;          // connections trimmed since the last sweep
    std::size_t connections_before = 0;  // connections at the last sweep
    bool trim_heap_soon = false;
    void after_sweep(std::size_t connections);
    void between_sweeps();
  };
  ReloadOutcome reload_locked(std::string_view trigger);  // reload() under reload_mutex_
  // Control thread: returns freed memory to the kernel once a replaced snapshot is gone.
  void trim_after_retired();

  std::shared_ptr<const config::Config> startup_config_;  // until run() has started
  std::string config_path_;
  Options options_;
  std::atomic<std::shared_ptr<const registry::Snapshot>> current_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> ready_{false};
  std::vector<std::unique_ptr<Worker>> workers_;
  health::EndpointCallbacks callbacks_;
  std::unique_ptr<health::HealthChecker> checker_;
  boost::asio::io_context control_{1};  // signals, reloads, the file watcher
  std::mutex reload_mutex_;
  std::unique_ptr<FileWatcher> watcher_;
  std::unique_ptr<metrics::Registry> metrics_;
  registry::RetiredSnapshots retired_;  // replaced by a reload, freed on the control thread
  std::optional<net::Clock::time_point> trim_again_at_;
};

}  // namespace gatehouse::server
