// logging/: logger setup (text or JSON lines on stderr), the access-log line, fatal
// signal stack traces.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace gatehouse::logging {

enum class Level { debug = 0, info = 1, warning = 2, error = 3 };
enum class Format { text, json };

std::optional<Level> parse_level(std::string_view text);
std::optional<Format> parse_format(std::string_view text);
std::string_view level_name(Level level);

// Installs the process logger. Safe to call again (a reload may change level/format).
void setup(Level level, Format format, bool access_log);
// Writes what is queued (at exit).
void flush();

bool enabled(Level level);
bool access_log_enabled();

using Value = std::variant<std::string_view, std::int64_t, double, bool, std::nullptr_t>;
struct Field {
  std::string_view key;
  Value value;
};

void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  if (enabled(Level::debug)) write(Level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  if (enabled(Level::info)) write(Level::info, m, f);
}
inline void warning(std::string_view m, std::initializer_list<Field> f = {}) {
  if (enabled(Level::warning)) write(Level::warning, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::error, m, f);
}

// One line per request (SPEC section 9).
struct AccessRecord {
  std::string_view request_id;
  std::string_view client;
  std::string_view method;
  std::string_view path;
  int status = 0;
  std::string_view endpoint;
  std::string_view upstream;        // the last server tried, host:port; "" when none
  std::uint32_t attempts = 0;       // tries made (retries included; 0: none)
  int upstream_status = 0;          // 0: no upstream response
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  double duration_ms = 0;
  std::string_view breaker = "";    // breaker state, "" when no endpoint
  std::string_view fallback = "";   // fallback used, "" when none
  bool rate_limited = false;        // refused by the endpoint's rate limit (our 429)
};
// Buffered per thread; see flush_thread_access_log().
void access(const AccessRecord& record);
// Writes this thread's pending access-log lines. Event-loop threads call it on a short
// timer and before they exit.
void flush_thread_access_log();

// Prints a stack trace on SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT, then lets the
// signal kill the process.
void install_crash_handlers();

// The current stack as text, for unexpected exceptions.
std::string current_stacktrace();

// Appends x with three decimals, as printf("%.3f") would (durations in log lines).
void append_fixed3(std::string& out, double x);

}  // namespace gatehouse::logging
