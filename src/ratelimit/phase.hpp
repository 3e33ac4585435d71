// ratelimit/: the rate-limit phase of the request pipeline (after authenticate, before
// the breaker; SPEC section 14), and the per-thread state it needs.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "http/message.hpp"
#include "metrics/registry.hpp"
#include "net/io.hpp"
#include "ratelimit/headers.hpp"
#include "ratelimit/limiter.hpp"

namespace gatehouse::redis {
class Pool;
}

namespace gatehouse::ratelimit {

// One per worker thread, touched by that thread only: its Redis connections (opened on
// the first shared check) and a reused buffer for a key made from a claim (used only
// before the check first waits).
class ThreadContext {
 public:
  explicit ThreadContext(net::Executor ex);
  ~ThreadContext();
  redis::Pool& redis();

  std::string key;

 private:
  net::Executor ex_;
  std::unique_ptr<redis::Pool> pool_;
};

enum class Verdict {
  allowed,      // a token was taken: go on (`headers` is filled)
  limited,      // no token: 429 with retry_after_s (`headers` is filled)
  unavailable,  // shared, Redis did not answer and on_error is deny: 503
  unchecked,    // shared, Redis did not answer and on_error is allow: go on, no headers
};

struct Outcome {
  Verdict verdict = Verdict::allowed;
  std::uint64_t retry_after_s = 0;
};

struct Request {
  std::string_view client_ip;
  std::span<const http::Field> fields;
};

// Takes a token for `req` from this process's table (a limit that is not shared): no
// I/O, so no coroutine frame per request.
Outcome check_local(Limiter& limiter, ThreadContext& tc, const Request& req,
                    HeaderBlock& headers);

// Takes a token for `req` from Redis (a shared limit). `redis` is the live config's
// section; Redis failures are counted into `metrics` and logged at most once a second.
net::Task<Outcome> check_shared(Limiter& limiter, ThreadContext& tc, const config::Redis* redis,
                                const Request& req, metrics::Registry& metrics,
                                HeaderBlock& headers);

}  // namespace gatehouse::ratelimit
