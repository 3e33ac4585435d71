#include "common/time_format.hpp"

#include <cstdio>
#include <ctime>

namespace gatehouse {

void append_rfc3339_ms(std::string& out, std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int millis = static_cast<int>(ms - static_cast<long long>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                              tm.tm_sec, millis);
  out.append(buf, static_cast<std::size_t>(n));
}

std::string rfc3339_ms(std::chrono::system_clock::time_point t) {
  std::string out;
  append_rfc3339_ms(out, t);
  return out;
}

}  // namespace gatehouse
