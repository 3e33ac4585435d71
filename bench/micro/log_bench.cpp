// The access-log line written for every request (issue 6: every feature's cost visible).
// Lines go to this thread's buffer; full buffers are written to stderr, which is sent
// to /dev/null while the benchmark runs.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <unistd.h>

#include "logging/log.hpp"

namespace {

using namespace gatehouse;

class StderrToNull {
 public:
  StderrToNull() : saved_(::dup(STDERR_FILENO)) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, STDERR_FILENO);
    ::close(null);
  }
  ~StderrToNull() {
    logging::flush_thread_access_log();
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }

 private:
  int saved_;
};

logging::AccessRecord typical() {
  logging::AccessRecord r;
  r.request_id = "3f2b8c1d9e4a4b7f8c6d5e4f3a2b1c0d";
  r.client = "203.0.113.7";
  r.method = "GET";
  r.path = "/users/v1/42";
  r.status = 200;
  r.endpoint = "users@v1";
  r.upstream_status = 200;
  r.bytes_in = 412;
  r.bytes_out = 731;
  r.duration_ms = 1.234;
  r.breaker = "closed";
  return r;
}

void BM_AccessLine(benchmark::State& state, logging::Format format) {
  logging::setup(logging::Level::info, format, true);
  StderrToNull quiet;
  const auto r = typical();
  for (auto _ : state) logging::access(r);
  logging::setup(logging::Level::info, logging::Format::text, true);
}
BENCHMARK_CAPTURE(BM_AccessLine, text, logging::Format::text);
BENCHMARK_CAPTURE(BM_AccessLine, json, logging::Format::json);

}  // namespace
