#include <gtest/gtest.h>

#include <cstdio>
#include <unistd.h>
#include <string>

#include "logging/log.hpp"

namespace gatehouse::logging {
namespace {

std::string fixed3(double x) {
  std::string out;
  append_fixed3(out, x);
  return out;
}

std::string printf3(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", x);
  return buf;
}

TEST(AppendFixed3, FormatsLikePrintf) {
  for (double x : {0.0, 0.0004, 0.0005001, 0.001, 0.5, 1.0, 1.2345678, 9.9996, 12.03, 999.999,
                   1234567.891, 0.123})
    EXPECT_EQ(fixed3(x), printf3(x)) << x;
}

TEST(AppendFixed3, CarriesIntoTheIntegerPart) {
  EXPECT_EQ(fixed3(0.9999), "1.000");
  EXPECT_EQ(fixed3(41.99951), "42.000");
}

TEST(AppendFixed3, FallsBackForValuesOutsideTheFastPath) {
  EXPECT_EQ(fixed3(-1.5), printf3(-1.5));
  EXPECT_EQ(fixed3(1e13), printf3(1e13));
}

TEST(AppendFixed3, Appends) {
  std::string out = "duration_ms=";
  append_fixed3(out, 2.5);
  EXPECT_EQ(out, "duration_ms=2.500");
}

}  // namespace
}  // namespace gatehouse::logging

namespace gatehouse::logging {
namespace {

// What access() writes to stderr for `r`, with the timestamp cut off.
std::string access_line(const AccessRecord& r, Format format) {
  setup(Level::info, format, true);
  std::FILE* f = std::tmpfile();
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(f), STDERR_FILENO);
  access(r);
  flush_thread_access_log();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::rewind(f);
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  setup(Level::info, Format::text, true);
  // "2026-12-01T10:00:00.000Z" is 24 bytes.
  if (format == Format::json) return text.substr(0, 9) + "T" + text.substr(9 + 24);
  return text.substr(24);
}

AccessRecord tricky() {
  AccessRecord r;
  r.request_id = "req-1";
  r.client = "127.0.0.1:5000";
  r.method = "GET";
  r.path = "/a b\"c\\d\x01\n";
  r.status = 502;
  r.endpoint = "";
  r.attempts = 2;
  r.bytes_in = 88;
  r.bytes_out = 12345678901;
  r.duration_ms = 1.2345;
  r.breaker = "half_open";
  r.fallback = "";
  r.rate_limited = true;
  return r;
}

TEST(AccessLine, TextQuotesWhatNeedsItAndWritesNulls) {
  EXPECT_EQ(access_line(tricky(), Format::text),
            " INFO access request_id=req-1 client=127.0.0.1:5000 method=GET "
            "path=\"/a b\\\"c\\\\d\\u0001\\n\" status=502 endpoint=\"\" upstream=null attempts=2 "
            "upstream_status=null bytes_in=88 bytes_out=12345678901 duration_ms=1.235 "
            "breaker=half_open fallback=\"\" rate_limited=true\n");
}

TEST(AccessLine, JsonEscapesEveryString) {
  AccessRecord r = tricky();
  r.upstream = "10.0.0.1:80";
  r.upstream_status = 503;
  r.rate_limited = false;
  r.duration_ms = 2e13;  // outside append_fixed3's fast path
  EXPECT_EQ(access_line(r, Format::json),
            "{\"time\":\"T\",\"level\":\"info\",\"msg\":\"access\",\"request_id\":\"req-1\","
            "\"client\":\"127.0.0.1:5000\",\"method\":\"GET\",\"path\":\"/a b\\\"c\\\\d\\u0001\\n\","
            "\"status\":502,\"endpoint\":\"\",\"upstream\":\"10.0.0.1:80\",\"attempts\":2,"
            "\"upstream_status\":503,\"bytes_in\":88,\"bytes_out\":12345678901,"
            "\"duration_ms\":20000000000000.000,\"breaker\":\"half_open\",\"fallback\":\"\","
            "\"rate_limited\":false}\n");
}

TEST(AccessLine, TheLargestDurationFitsWithShortStrings) {
  AccessRecord r = tricky();
  r.path = "/";
  r.duration_ms = 1.7e308;  // "%.3f": 309 digits and the fraction
  const std::string line = access_line(r, Format::text);
  char want[400];
  std::snprintf(want, sizeof want, " duration_ms=%.3f ", r.duration_ms);
  EXPECT_NE(line.find(want), std::string::npos) << line;
  EXPECT_EQ(line.find('\0'), std::string::npos);
  EXPECT_TRUE(line.ends_with(" rate_limited=true\n")) << line;
}

TEST(AccessLine, ALongPathAtItsEscapedWorstFits) {
  AccessRecord r = tricky();
  const std::string path(20000, '\x02');
  r.path = path;
  const std::string line = access_line(r, Format::json);
  std::string want;
  for (int i = 0; i < 20000; ++i) want += "\\u0002";
  EXPECT_NE(line.find("\"path\":\"" + want + "\","), std::string::npos);
  EXPECT_EQ(line.back(), '\n');
}

}  // namespace
}  // namespace gatehouse::logging
