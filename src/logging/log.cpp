#include "logging/log.hpp"

#include "common/time_format.hpp"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/stacktrace.hpp>
#include <chrono>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <unistd.h>

namespace gatehouse::logging {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<bool> g_json{false};
std::atomic<bool> g_access{true};
std::shared_ptr<spdlog::logger> g_logger;
std::once_flag g_once;

void init_logger() {
  std::call_once(g_once, [] {
    spdlog::init_thread_pool(1024, 1);
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    g_logger = std::make_shared<spdlog::async_logger>(
        "gatehouse", sink, spdlog::thread_pool(), spdlog::async_overflow_policy::block);
    g_logger->set_pattern("%v");
    g_logger->set_level(spdlog::level::trace);
    g_logger->flush_on(spdlog::level::trace);
  });
}

void append_time(std::string& out) {
  // gmtime and formatting once per second per thread; milliseconds patched in.
  thread_local std::int64_t cached_second = -1;
  thread_local std::string cached;  // "2026-11-27T10:00:00.000Z"
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  if (ms / 1000 != cached_second) {
    cached_second = ms / 1000;
    cached.clear();
    append_rfc3339_ms(cached, now);
  }
  const auto millis = static_cast<int>(ms % 1000);
  const std::size_t at = out.size();
  out.append(cached);
  out[at + 20] = static_cast<char>('0' + millis / 100);
  out[at + 21] = static_cast<char>('0' + millis / 10 % 10);
  out[at + 22] = static_cast<char>('0' + millis % 10);
}

// `s` quoted and escaped as a JSON string at `p`, which has room for 6 * size + 2 bytes
// (every byte as \u00XX at worst); returns the end. The one escaping routine of both
// the general log lines and the access line.
char* put_json_string(char* p, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  *p++ = '"';
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c != '"' && c != '\\') {
      *p++ = ch;
      continue;
    }
    *p++ = '\\';
    switch (c) {
      case '"': *p++ = '"'; break;
      case '\\': *p++ = '\\'; break;
      case '\n': *p++ = 'n'; break;
      case '\r': *p++ = 'r'; break;
      case '\t': *p++ = 't'; break;
      default:
        *p++ = 'u';
        *p++ = '0';
        *p++ = '0';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 0xf];
    }
  }
  *p++ = '"';
  return p;
}

void append_json_string(std::string& out, std::string_view s) {
  const std::size_t at = out.size();
  out.resize(at + 6 * s.size() + 2);
  char* end = put_json_string(out.data() + at, s);
  out.resize(static_cast<std::size_t>(end - out.data()));
}

// Bytes a text-format value cannot hold bare: space, '"', '=' and the controls.
constexpr auto kNeedsQuotes = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[static_cast<std::size_t>(c)] = true;
  t[' '] = t['"'] = t['='] = true;
  return t;
}();

bool needs_quotes(std::string_view s) {
  if (s.empty()) return true;
  for (char c : s)
    if (kNeedsQuotes[static_cast<unsigned char>(c)]) return true;
  return false;
}

void append_value(std::string& out, const Value& v, bool json) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          if (json || needs_quotes(x)) append_json_string(out, x);
          else out.append(x);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          char buf[24];
          const auto r = std::to_chars(buf, buf + sizeof buf, x);
          out.append(buf, r.ptr);
        } else if constexpr (std::is_same_v<T, double>) {
          append_fixed3(out, x);
        } else if constexpr (std::is_same_v<T, bool>) {
          out.append(x ? "true" : "false");
        } else {
          out.append("null");
        }
      },
      v);
}

// The access line's fields, stored straight into the thread's buffer: the line's size
// is bounded first (one resize), then each typed field is raw stores, with no variant
// and no capacity check per append. The output is format_line's, byte for byte. Its
// small members are inlined into access(), where every key is a literal: the keys'
// copies become stores of known size, not calls to memcpy.
class FieldWriter {
 public:
  FieldWriter(std::string& out, std::size_t bound, bool json)
      : out_(out), start_(out.size()), json_(json) {
    out.resize(start_ + bound);
    p_ = out.data() + start_;
  }
  ~FieldWriter() { out_.resize(static_cast<std::size_t>(p_ - out_.data())); }
  FieldWriter(const FieldWriter&) = delete;
  FieldWriter& operator=(const FieldWriter&) = delete;

  // 6 bytes per byte of a string at most (\u00XX), plus quotes.
  static constexpr std::size_t bound(std::string_view s) { return 6 * s.size() + 2; }

  [[gnu::always_inline]] void key(std::string_view k) {
    if (json_) {
      *p_++ = ',';
      *p_++ = '"';
      put(k);  // keys are plain identifiers
      *p_++ = '"';
      *p_++ = ':';
    } else {
      *p_++ = ' ';
      put(k);
      *p_++ = '=';
    }
  }
  [[gnu::always_inline]] void string(std::string_view k, std::string_view v) {
    key(k);
    if (json_ || needs_quotes(v)) quoted(v);
    else put(v);
  }
  [[gnu::always_inline]] void integer(std::string_view k, std::int64_t v) {
    key(k);
    p_ = std::to_chars(p_, p_ + 24, v).ptr;
  }
  void null(std::string_view k) {
    key(k);
    put("null");
  }
  void boolean(std::string_view k, bool v) {
    key(k);
    put(v ? std::string_view("true") : std::string_view("false"));
  }
  void fixed3(std::string_view k, double v) {
    key(k);
    // Through a small string: the slow path of append_fixed3 is snprintf.
    tmp_.clear();
    append_fixed3(tmp_, v);
    put(tmp_);
  }

 private:
  [[gnu::always_inline]] void put(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void quoted(std::string_view s) { p_ = put_json_string(p_, s); }

  std::string& out_;
  std::size_t start_;
  bool json_;
  char* p_;
  static thread_local std::string tmp_;
};

thread_local std::string FieldWriter::tmp_;

template <class Fields>
void format_line(std::string& line, Level level, std::string_view message, const Fields& fields) {
  if (g_json.load(std::memory_order_relaxed)) {
    line.append("{\"time\":\"");
    append_time(line);
    line.append("\",\"level\":\"");
    line.append(level_name(level));
    line.append("\",\"msg\":");
    append_json_string(line, message);
    for (const auto& f : fields) {
      line.push_back(',');
      append_json_string(line, f.key);
      line.push_back(':');
      append_value(line, f.value, true);
    }
    line.push_back('}');
  } else {
    append_time(line);
    line.push_back(' ');
    std::string_view name = level_name(level);
    for (char c : name) line.push_back(static_cast<char>(c - 32));  // upper-case
    line.push_back(' ');
    line.append(message);
    for (const auto& f : fields) {
      line.push_back(' ');
      line.append(f.key);
      line.push_back('=');
      append_value(line, f.value, false);
    }
  }
}

template <class Fields>
void emit(Level level, std::string_view message, const Fields& fields) {
  init_logger();
  std::string line;
  line.reserve(256);
  format_line(line, level, message, fields);
  g_logger->log(spdlog::level::info, "{}", line);
}

// Access-log lines are formatted on the request's thread into a buffer of that thread
// and written in batches (like nginx's `access_log buffer=`): no queue, no lock, no
// system call per request. flush_thread_access_log() writes what is pending.
constexpr std::size_t kAccessBufferLimit = 32 * 1024;
thread_local std::string t_access;

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // stderr gone: nothing sensible to do
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void crash_handler(int sig) {
  // Not async-signal-safe, but the process is dying anyway; a trace is worth the risk.
  std::signal(sig, SIG_DFL);
  char head[96];
  const int n = std::snprintf(head, sizeof head, "fatal signal %d; stack trace:\n", sig);
  if (n > 0) (void)!::write(STDERR_FILENO, head, static_cast<std::size_t>(n));
  const std::string trace = boost::stacktrace::to_string(boost::stacktrace::stacktrace());
  (void)!::write(STDERR_FILENO, trace.data(), trace.size());
  std::raise(sig);
}

}  // namespace

// "%.3f" without printf (durations on every access-log line).
void append_fixed3(std::string& out, double x) {
  if (!(x >= 0 && x < 1e12)) {
    char buf[320];  // "%.3f" of -DBL_MAX: 314 bytes (a smaller buffer was read past)
    const int n = std::snprintf(buf, sizeof buf, "%.3f", x);
    out.append(buf, std::min(static_cast<std::size_t>(n > 0 ? n : 0), sizeof buf - 1));
    return;
  }
  const auto thousandths = static_cast<std::uint64_t>(x * 1000.0 + 0.5);
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, thousandths / 1000);
  const auto frac = static_cast<unsigned>(thousandths % 1000);
  *r.ptr++ = '.';
  *r.ptr++ = static_cast<char>('0' + frac / 100);
  *r.ptr++ = static_cast<char>('0' + frac / 10 % 10);
  *r.ptr++ = static_cast<char>('0' + frac % 10);
  out.append(buf, r.ptr);
}

std::optional<Level> parse_level(std::string_view text) {
  if (text == "debug") return Level::debug;
  if (text == "info") return Level::info;
  if (text == "warning") return Level::warning;
  if (text == "error") return Level::error;
  return std::nullopt;
}

std::optional<Format> parse_format(std::string_view text) {
  if (text == "text") return Format::text;
  if (text == "json") return Format::json;
  return std::nullopt;
}

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warning: return "warning";
    case Level::error: return "error";
  }
  return "info";
}

void setup(Level level, Format format, bool access_log) {
  init_logger();
  g_level.store(static_cast<int>(level));
  g_json.store(format == Format::json);
  g_access.store(access_log);
}

void flush() {
  if (g_logger) g_logger->flush();
}

bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

bool access_log_enabled() { return g_access.load(std::memory_order_relaxed); }

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  emit(level, message, fields);
}

void access(const AccessRecord& r) {
  if (t_access.capacity() < kAccessBufferLimit) t_access.reserve(kAccessBufferLimit + 1024);
  const bool json = g_json.load(std::memory_order_relaxed);
  // The head as format_line writes it, then the fields.
  if (json) {
    t_access.append("{\"time\":\"");
    append_time(t_access);
    t_access.append("\",\"level\":\"info\",\"msg\":\"access\"");
  } else {
    append_time(t_access);
    t_access.append(" INFO access");
  }
  {
    using W = FieldWriter;
    // Keys, integers, punctuation: under 512 bytes; "%.3f" of the largest double: 320
    // (append_fixed3's slow path); strings at their escaped worst.
    const std::size_t bound = 512 + 320 + W::bound(r.request_id) + W::bound(r.client) +
                              W::bound(r.method) + W::bound(r.path) + W::bound(r.endpoint) +
                              W::bound(r.upstream) + W::bound(r.breaker) + W::bound(r.fallback);
    W w(t_access, bound, json);
    w.string("request_id", r.request_id);
    w.string("client", r.client);
    w.string("method", r.method);
    w.string("path", r.path);
    w.integer("status", r.status);
    w.string("endpoint", r.endpoint);
    if (r.upstream.empty()) w.null("upstream");
    else w.string("upstream", r.upstream);
    w.integer("attempts", r.attempts);
    if (r.upstream_status) w.integer("upstream_status", r.upstream_status);
    else w.null("upstream_status");
    w.integer("bytes_in", static_cast<std::int64_t>(r.bytes_in));
    w.integer("bytes_out", static_cast<std::int64_t>(r.bytes_out));
    w.fixed3("duration_ms", r.duration_ms);
    w.string("breaker", r.breaker);
    w.string("fallback", r.fallback);
    w.boolean("rate_limited", r.rate_limited);
  }
  if (json) t_access.push_back('}');
  t_access.push_back('\n');
  if (t_access.size() >= kAccessBufferLimit) flush_thread_access_log();
}

void flush_thread_access_log() {
  if (t_access.empty()) return;
  write_all(STDERR_FILENO, t_access);
  t_access.clear();
}

void install_crash_handlers() {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, crash_handler);
}

std::string current_stacktrace() {
  return boost::stacktrace::to_string(boost::stacktrace::stacktrace());
}

}  // namespace gatehouse::logging
