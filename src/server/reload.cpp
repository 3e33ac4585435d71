// Reloads: parse and validate the whole file, diff, build a new snapshot carrying the
// state of unchanged endpoints, swap it in atomically.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <unordered_set>

#include "logging/log.hpp"
#include "server/server.hpp"

namespace gatehouse::server {

namespace asio = boost::asio;

namespace {
std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out.push_back(',');
    out.append(s);
  }
  return out;
}

// What a reload re-reads: the config file and the listener's certificates and keys.
std::vector<std::string> watched_files(const std::string& config_path, const config::Config& cfg) {
  std::vector<std::string> out{config_path};
  if (cfg.tls) {
    for (const auto& c : cfg.tls->certificates) {
      out.push_back(c.cert_file);
      out.push_back(c.key_file);
    }
    if (cfg.tls->client_ca_file) out.push_back(*cfg.tls->client_ca_file);
  }
  return out;
}

void log_warnings(const std::vector<config::ConfigError>& warnings) {
  for (const auto& w : warnings)
    logging::warning("config warning", {{"detail", std::string_view(w.to_string())}});
}
}  // namespace

void Server::apply_log_settings(const config::Config& cfg) {
  const std::string& text =
      options_.log_level_override.empty() ? cfg.log.level : options_.log_level_override;
  const auto level = logging::parse_level(text);
  const auto format = logging::parse_format(cfg.log.format);
  if (level && format) logging::setup(*level, *format, cfg.log.access_log);
}

void Server::set_watch(bool on) {
  if (!on) {
    if (watcher_) watcher_->stop();
    watcher_.reset();
    return;
  }
  if (watcher_) return;
  watcher_ = std::make_unique<FileWatcher>(
      control_, watched_files(config_path_, *current_.load()->config), [this] { reload("watch"); });
  std::string error;
  if (!watcher_->start(error)) {
    logging::error("cannot watch the config file", {{"error", std::string_view(error)}});
    watcher_.reset();
  }
}

ReloadOutcome Server::reload(std::string_view trigger) {
  std::lock_guard lock(reload_mutex_);
  ReloadOutcome out = reload_locked(trigger);
  metrics_->count_reload(out.ok, RealClock::instance().system_now());
  // Series of endpoints the new table no longer has leave the output. The registry holds
  // a series for every id of the table: when it holds no more than that, none is extra
  // (and hashing 100,000 ids to find that out is skipped).
  if (out.applied) {
    const auto snap = current_.load();
    if (metrics_->size() != snap->endpoints.size()) metrics_->retain_only(registry::ids_of(*snap));
  }
  return out;
}

ReloadOutcome Server::reload_locked(std::string_view trigger) {
  ReloadOutcome out;
  // A table replaced by the previous reload that nothing holds any more is freed before
  // the next one is built, which then takes its place in the heap instead of interleaving
  // with it (reloads in quick succession).
  retired_.release();
  auto old = current_.load();
  // Endpoints whose text did not change are taken from the running config, not parsed.
  auto loaded = config::load_from_file(config_path_, old->config.get());
  out.config_version = old->config_version;
  if (!loaded.errors.empty()) {
    out.errors = std::move(loaded.errors);
    std::string all;
    for (const auto& e : out.errors) {
      if (!all.empty()) all.append("; ");
      all.append(e.to_string());
    }
    logging::error("config reload failed; the running config is kept",
                   {{"trigger", trigger},
                    {"errors", static_cast<std::int64_t>(out.errors.size())},
                    {"detail", std::string_view(all)}});
    return out;
  }
  out.ok = true;
  log_warnings(loaded.warnings);
  out.diff = config::diff(*old->config, *loaded.config);
  if (out.diff.effective_unchanged()) {
    const logging::Level level = trigger == "watch" ? logging::Level::debug : logging::Level::info;
    if (logging::enabled(level))
      logging::write(level, "config reload: unchanged",
                     {{"trigger", trigger},
                      {"config_version", static_cast<std::int64_t>(out.config_version)},
                      {"restart_required", std::string_view(join(out.diff.restart_required))}});
    return out;
  }

  auto cfg = std::make_shared<const config::Config>(std::move(*loaded.config));
  std::string error;
  auto snap = registry::build_snapshot(cfg, old->generation + 1, old->config_version + 1, old.get(),
                                       RealClock::instance(), callbacks_, error, metrics_.get());
  if (!snap) {
    out.ok = false;
    out.errors.push_back(config::ConfigError{"", 0, 0, error});
    logging::error("config reload failed; the running config is kept",
                   {{"trigger", trigger}, {"detail", std::string_view(error)}});
    return out;
  }
  // One atomic swap: each request sees the old table or the new one, never a mix.
  current_.store(snap);
  generation_.store(snap->generation, std::memory_order_release);
  out.applied = true;
  out.config_version = snap->config_version;

  if (checker_) checker_->set_endpoints(registry::states_of(*snap));
  apply_log_settings(*cfg);
  if (cfg->watch != old->config->watch) set_watch(cfg->watch);
  if (watcher_) {
    // New certificate files are watched from now on (the watcher is only told, never
    // replaced: this may run inside its own callback).
    auto files = watched_files(config_path_, *cfg);
    std::string werr;
    if (files != watcher_->paths() && !watcher_->set_paths(std::move(files), werr))
      logging::error("cannot watch the certificate files", {{"error", std::string_view(werr)}});
  }
  // Idle upstream connections to upstreams no endpoint uses any more are closed.
  auto keys = std::make_shared<std::unordered_set<std::string>>();
  for (const auto& ep : snap->endpoints)
    if (!ep.config->disabled)
      for (const auto& server : ep.servers) keys->insert(server.pool_key);
  // Each worker takes the new snapshot now, even one that serves no request for a
  // while, so the old one is freed as soon as its last in-flight request ends.
  for (auto& w : workers_)
    asio::post(w->ctx, [wp = w.get(), keys] {
      wp->pool.retain_only(*keys);
      wp->server.snapshot(*wp);
    });
  // The old table is freed on this thread once nothing else holds it (trim_after_retired),
  // after the answer to this reload has gone out: with 100,000 endpoints that takes time.
  retired_.add(std::move(old));

  logging::info("config reloaded",
                {{"trigger", trigger},
                 {"config_version", static_cast<std::int64_t>(out.config_version)},
                 {"added", std::string_view(join(out.diff.added))},
                 {"removed", std::string_view(join(out.diff.removed))},
                 {"updated", std::string_view(join(out.diff.updated))},
                 {"unchanged", static_cast<std::int64_t>(out.diff.unchanged.size())},
                 {"disabled", std::string_view(join(out.diff.disabled))},
                 {"restart_required", std::string_view(join(out.diff.restart_required))}});
  return out;
}

net::Task<ReloadOutcome> Server::reload_from_worker() {
  auto outcome = co_await asio::co_spawn(
      control_.get_executor(),
      [this]() -> asio::awaitable<ReloadOutcome> { co_return reload("api"); },
      asio::use_awaitable_t<net::Executor>{});
  co_return outcome;
}

}  // namespace gatehouse::server
