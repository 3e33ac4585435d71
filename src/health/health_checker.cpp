#include "health/health_checker.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <thread>
#include <unordered_map>

#include "health/probe.hpp"
#include "http/message.hpp"

namespace gatehouse::health {

namespace {

// The same shapes as proxy/io.hpp (which health may not include): the concrete
// io_context executor and error codes as values.
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using Executor = asio::io_context::executor_type;
template <class T = void>
using Task = asio::awaitable<T, Executor>;
constexpr auto use_task = asio::as_tuple(asio::use_awaitable_t<Executor>{});
using Tcp = asio::ip::tcp;
using Socket = asio::basic_stream_socket<Tcp, Executor>;
using Resolver = asio::ip::basic_resolver<Tcp, Executor>;
using SteadyClock = std::chrono::steady_clock;
using Timer = asio::basic_waitable_timer<SteadyClock, asio::wait_traits<SteadyClock>, Executor>;
using error_code = boost::system::error_code;

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

std::shared_ptr<ssl::context> make_tls(const config::UpstreamTls& tls, std::string& error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  if (!tls.verify) {
    ctx->set_verify_mode(ssl::verify_none, ec);
    return ctx;
  }
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (tls.ca_file) {
    ctx->load_verify_file(*tls.ca_file, ec);
    if (ec) {
      error = "cannot load tls.ca_file " + *tls.ca_file + ": " + ec.message();
      return nullptr;
    }
  } else {
    ctx->set_default_verify_paths(ec);
  }
  return ctx;
}

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
  const auto interval = std::max(cfg->health_check.interval, std::chrono::milliseconds(1));
  auto next = SteadyClock::now() + probe_offset(loop->state->id(), interval);
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
  io->deadline.expires_after(cfg->health_check.timeout);
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
    r.ok = status_expected(status, cfg->health_check.expected_status);
    if (!r.ok)
      r.error =
          "status " + std::to_string(status) + " not in " + cfg->health_check.expected_status_text;
  }
  co_return r;
}

Task<std::string> HealthChecker::Impl::talk(Loop& loop, ProbeIo& io, const config::Endpoint& ep,
                                            int& status) {
  const auto& url = ep.url;
  std::vector<Tcp::endpoint> targets;
  error_code ec;
  const auto addr = asio::ip::make_address(url.host, ec);
  if (!ec) {
    targets.emplace_back(addr, url.port);
  } else {
    auto [rec, results] =
        co_await io.resolver.async_resolve(url.host, std::to_string(url.port), use_task);
    if (rec) co_return "resolve: " + rec.message();
    for (const auto& entry : results) targets.push_back(entry.endpoint());
  }

  error_code cec = asio::error::host_unreachable;
  for (const auto& target : targets) {
    if (io.timed_out) break;
    error_code ignored;
    io.socket.close(ignored);
    io.socket.open(target.protocol(), ignored);
    auto [e] = co_await io.socket.async_connect(target, use_task);
    cec = e;
    if (!cec) break;
  }
  if (cec) co_return "connect: " + cec.message();
  io.socket.set_option(Tcp::no_delay(true), ec);

  const std::string request = probe_request(ep);
  if (!url.https) {
    std::string err = co_await exchange(io.socket, request, status);
    co_return err;
  }

  if (!loop.tls_for || *loop.tls_for != ep.tls) {
    loop.tls_error.clear();
    loop.tls = make_tls(ep.tls, loop.tls_error);
    loop.tls_for = ep.tls;
  }
  if (!loop.tls) co_return "tls: " + loop.tls_error;
  ssl::stream<Socket&> stream(io.socket, *loop.tls);
  SSL* ssl_handle = stream.native_handle();
  const std::string& sni = ep.tls.server_name ? *ep.tls.server_name : url.host;
  const bool sni_is_ip = (asio::ip::make_address(sni, ec), !ec);
  if (!sni_is_ip) SSL_set_tlsext_host_name(ssl_handle, sni.c_str());
  if (ep.tls.verify) {
    SSL_set_hostflags(ssl_handle, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (sni_is_ip)
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), sni.c_str());
    else
      SSL_set1_host(ssl_handle, sni.c_str());
  }
  auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, use_task);
  if (hec) co_return "tls: " + hec.message();
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
    if (cfg->disabled || !cfg->health_check.enabled) continue;
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
