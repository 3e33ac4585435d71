#include "health/health_checker.hpp"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <thread>
#include <unordered_map>

#include "health/probe.hpp"
#include "http/message.hpp"
#include "net/connect.hpp"
#include "net/io.hpp"
#include "net/tls_client.hpp"

namespace gatehouse::health {

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using net::error_code;
using net::Executor;
using net::Resolver;
using net::Socket;
using net::Task;
using net::Timer;
using net::use_task;
using SteadyClock = net::Clock;

constexpr std::size_t kMaxHead = 16 * 1024;

// One probe's I/O objects, shared with its deadline handler and with stop().
struct ProbeIo {
  explicit ProbeIo(Executor ex) : socket(ex), resolver(ex), deadline(ex) {}
  // Closing (not just cancelling) makes every later operation fail at once too, so a
  // deadline that fires between two operations still ends the probe.
  void close() {
    error_code ignored;
    resolver.cancel();
    socket.close(ignored);
  }
  Socket socket;
  Resolver resolver;
  Timer deadline;
  bool timed_out = false;
};

struct Loop {
  Loop(Executor ex, std::shared_ptr<EndpointState> s) : state(std::move(s)), timer(ex) {}
  std::shared_ptr<EndpointState> state;
  Timer timer;
  bool stopped = false;
  std::shared_ptr<ProbeIo> io;  // the probe in flight, if any
  // TLS client context, rebuilt when the endpoint's tls settings change on reload.
  std::shared_ptr<ssl::context> tls;
  std::optional<config::UpstreamTls> tls_for;
  std::string tls_error;
};

// Writes the request and reads up to the final (non-1xx) status line. Returns an
// error text, empty when `status` was set.
template <class Stream>
Task<std::string> exchange(Stream& stream, const std::string& request, int& status) {
  auto [wec, written] = co_await asio::async_write(stream, asio::buffer(request), use_task);
  if (wec) co_return "write: " + wec.message();
  std::string buf;
  http::ResponseHead head;
  for (;;) {
    const http::ParseStatus ps = http::parse_response(buf, kMaxHead, false, head);
    if (ps == http::ParseStatus::error) co_return std::string("bad response");
    if (ps == http::ParseStatus::done) {
      if (head.status >= 200) {
        status = head.status;
        co_return std::string();
      }
      buf.erase(0, head.head_size);  // 1xx interim response: the real one follows
      continue;
    }
    const std::size_t old = buf.size();
    buf.resize(old + 4096);
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(buf.data() + old, 4096), use_task);
    buf.resize(old + n);
    if (rec == asio::error::eof) co_return std::string("bad response: closed before a status line");
    if (rec) co_return "read: " + rec.message();
  }
}

}  // namespace

struct HealthChecker::Impl {
  explicit Impl(const Clock& c) : clock(c), work(ioc.get_executor()) {
    thread = std::thread([this] { ioc.run(); });
  }

  Task<void> run(std::shared_ptr<Loop> loop);
  Task<CheckRecord> probe(Loop& loop);
  Task<std::string> talk(Loop& loop, ProbeIo& io, const config::Endpoint& ep, int& status);
  void apply(std::vector<std::shared_ptr<EndpointState>> endpoints);
  static void stop_loop(Loop& loop);

  const Clock& clock;
  asio::io_context ioc;
  asio::executor_work_guard<Executor> work;
  std::unordered_map<const EndpointState*, std::shared_ptr<Loop>> loops;  // checker thread only
  std::atomic<std::size_t> active{0};
  std::atomic<bool> stopped{false};
  std::thread thread;
};

Task<void> HealthChecker::Impl::run(std::shared_ptr<Loop> loop) {
  const auto cfg = loop->state->config();
  const auto interval = std::max(cfg->health_check->interval, std::chrono::milliseconds(1));
  auto next = SteadyClock::now() + probe_offset(loop->state->id(), interval,
                                                loop->state->index(), loop->state->count());
  for (;;) {
    loop->timer.expires_at(next);
    co_await loop->timer.async_wait(use_task);  // cancelled only by stop_loop
    if (loop->stopped) co_return;
    std::optional<CheckRecord> result;
    try {
      result = co_await probe(*loop);
    } catch (const std::exception& e) {  // e.g. SSL_new failing: a failed check, not a dead loop
      result = CheckRecord{clock.system_now(), false, 0, 0, std::string("internal: ") + e.what()};
    }
    if (loop->stopped) co_return;
    loop->state->record_probe(*result);
    // Fixed rate; a probe that overran its interval skips the missed slots.
    const auto now = SteadyClock::now();
    next += interval;
    if (next <= now) next += ((now - next) / interval + 1) * interval;
  }
}

Task<CheckRecord> HealthChecker::Impl::probe(Loop& loop) {
  const auto cfg = loop.state->config();
  CheckRecord r;
  r.at = clock.system_now();
  const auto start = clock.steady_now();

  auto io = std::make_shared<ProbeIo>(ioc.get_executor());
  loop.io = io;
  io->deadline.expires_after(cfg->health_check->timeout);
  io->deadline.async_wait([io](const error_code& ec) {
    if (ec) return;  // cancelled: the probe finished in time
    io->timed_out = true;
    io->close();
  });

  int status = 0;
  std::string error = co_await talk(loop, *io, *cfg, status);
  io->deadline.cancel();
  io->close();
  loop.io.reset();

  r.latency_ms = std::chrono::duration<double, std::milli>(clock.steady_now() - start).count();
  if (io->timed_out) {
    r.error = "timeout";
  } else if (!error.empty()) {
    r.error = std::move(error);
  } else {
    r.status = status;
    r.ok = status_expected(status, cfg->health_check->expected_status);
    if (!r.ok)
      r.error =
          "status " + std::to_string(status) + " not in " + cfg->health_check->expected_status_text;
  }
  co_return r;
}

Task<std::string> HealthChecker::Impl::talk(Loop& loop, ProbeIo& io, const config::Endpoint& ep,
                                            int& status) {
  const auto& url = loop.state->url();  // this server's (SPEC 13: each is probed)
  // The probe's own deadline (in probe()) closes the socket; this one ends the connect
  // and handshake at the same moment with a typed result.
  const auto deadline = SteadyClock::now() + ep.health_check->timeout;
  error_code why;
  const auto cerr = co_await net::connect(io.resolver, io.socket, url.host, url.port, deadline, &why);
  if (cerr == net::ConnectError::timeout) io.timed_out = true;
  if (cerr == net::ConnectError::resolve) co_return "resolve: " + why.message();
  if (cerr != net::ConnectError::none) co_return "connect: " + why.message();

  const std::string request = probe_request(ep, url);
  if (!url.https) {
    std::string err = co_await exchange(io.socket, request, status);
    co_return err;
  }

  if (!loop.tls_for || *loop.tls_for != *ep.tls) {
    loop.tls_error.clear();
    loop.tls = net::make_client_context(ep.tls->verify, ep.tls->ca_file ? &*ep.tls->ca_file : nullptr,
                                        loop.tls_error);
    loop.tls_for = *ep.tls;
  }
  if (!loop.tls) co_return "tls: " + loop.tls_error;
  ssl::stream<Socket&> stream(io.socket, *loop.tls);
  const std::string& sni = ep.tls->server_name ? *ep.tls->server_name : url.host;
  const auto herr = co_await net::handshake(stream, sni, ep.tls->verify, deadline, &why);
  if (herr == net::ConnectError::timeout) io.timed_out = true;
  if (herr != net::ConnectError::none) co_return "tls: " + why.message();
  std::string err = co_await exchange(stream, request, status);
  co_return err;
}

void HealthChecker::Impl::stop_loop(Loop& loop) {
  loop.stopped = true;
  loop.timer.cancel();
  if (loop.io) loop.io->close();
}

void HealthChecker::Impl::apply(std::vector<std::shared_ptr<EndpointState>> endpoints) {
  std::unordered_map<const EndpointState*, std::shared_ptr<Loop>> next;
  for (auto& state : endpoints) {
    if (!state || next.contains(state.get())) continue;
    const auto cfg = state->config();
    if (cfg->disabled || !cfg->health_check->enabled) continue;
    if (auto it = loops.find(state.get()); it != loops.end()) {
      next.emplace(it->first, std::move(it->second));
      loops.erase(it);
      continue;
    }
    auto loop = std::make_shared<Loop>(ioc.get_executor(), std::move(state));
    next.emplace(loop->state.get(), loop);
    asio::co_spawn(ioc.get_executor(), run(loop), asio::detached);
  }
  for (auto& [key, loop] : loops) stop_loop(*loop);
  loops = std::move(next);
  active.store(loops.size(), std::memory_order_relaxed);
}

HealthChecker::HealthChecker(const Clock& clock) : impl_(std::make_unique<Impl>(clock)) {}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::set_endpoints(std::vector<std::shared_ptr<EndpointState>> endpoints) {
  asio::post(impl_->ioc, [impl = impl_.get(), eps = std::move(endpoints)]() mutable {
    if (!impl->stopped.load()) impl->apply(std::move(eps));
  });
}

void HealthChecker::stop() {
  if (impl_->stopped.exchange(true)) return;
  asio::post(impl_->ioc, [impl = impl_.get()] {
    for (auto& [key, loop] : impl->loops) Impl::stop_loop(*loop);
    impl->loops.clear();
    impl->active.store(0, std::memory_order_relaxed);
  });
  // With every loop stopped and the guard gone, run() returns once the cancelled
  // operations have completed.
  impl_->work.reset();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::size_t HealthChecker::active() const { return impl_->active.load(std::memory_order_relaxed); }

}  // namespace gatehouse::health
