#include "ratelimit/phase.hpp"

#include <atomic>
#include <charconv>

#include "logging/log.hpp"
#include "redis/pool.hpp"

namespace gatehouse::ratelimit {

namespace {

// The same bucket as bucket.cpp, on the Redis server's clock (TIME, microseconds), so
// every replica shares one state and one time. The key holds the bucket's tat and
// expires once the bucket would be full again (a missing key is a full bucket).
// Returns {allowed, remaining, microseconds until full, microseconds until a token}.
const redis::Script& bucket_script() {
  static const redis::Script script(R"lua(
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local tolerance = (capacity - 1) * interval
local ahead = tat - now
if ahead > tolerance then
  return {0, 0, math.ceil(ahead), math.ceil(ahead - tolerance)}
end
tat = tat + interval
ahead = tat - now
redis.call('SET', KEYS[1], string.format('%.17g', tat), 'PX', math.ceil(ahead / 1000) + 1)
local used = math.ceil(ahead / interval - 1e-9)
return {1, math.max(0, capacity - used), math.ceil(ahead), 0}
)lua");
  return script;
}

std::atomic<std::int64_t> last_warning_ns{0};

// At most one warning a second for the whole process, whatever the thread.
void warn_once_a_second(redis::Error e, const std::string& why, bool deny) {
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  auto last = last_warning_ns.load(std::memory_order_relaxed);
  if (last != 0 && now - last < 1'000'000'000) return;
  if (!last_warning_ns.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
  logging::warning(deny ? "redis unavailable: shared rate limits answer 503 (on_error: deny)"
                        : "redis unavailable: shared rate limits let requests through (on_error: allow)",
                   {{"kind", redis::to_string(e)}, {"error", std::string_view(why)}});
}

std::uint64_t ceil_us_to_s(std::int64_t us) {
  return us <= 0 ? 0 : static_cast<std::uint64_t>((us + 999'999) / 1'000'000);
}

// The script's answer, or false when it is not the four integers it returns.
bool read_answer(const redis::Reply& r, Decision& d) {
  if (r.type != redis::Reply::Type::array || r.elements.size() != 4) return false;
  for (const auto& e : r.elements)
    if (e.type != redis::Reply::Type::integer || e.integer < 0) return false;
  d.allowed = r.elements[0].integer == 1;
  d.remaining = static_cast<std::uint64_t>(r.elements[1].integer);
  d.reset_s = ceil_us_to_s(r.elements[2].integer);
  d.retry_after_s = d.allowed ? 0 : std::max<std::uint64_t>(1, ceil_us_to_s(r.elements[3].integer));
  return true;
}

}  // namespace

ThreadContext::ThreadContext(net::Executor ex) : ex_(ex) {}
ThreadContext::~ThreadContext() = default;

redis::Pool& ThreadContext::redis() {
  if (!pool_) pool_ = std::make_unique<redis::Pool>(ex_);
  return *pool_;
}

namespace {

Outcome outcome_of(const Limiter& limiter, const Decision& d, HeaderBlock& headers) {
  headers.set(limiter.limit_fields(), d);
  if (!d.allowed) return Outcome{Verdict::limited, d.retry_after_s};
  return Outcome{Verdict::allowed, 0};
}

}  // namespace

Outcome check_local(Limiter& limiter, ThreadContext& tc, const Request& req,
                    HeaderBlock& headers) {
  const auto key = key_of(limiter.key_spec(), req.client_ip, req.fields, tc.key);
  return outcome_of(limiter, limiter.take_local(key), headers);
}

net::Task<Outcome> check_shared(Limiter& limiter, ThreadContext& tc, const config::Redis* redis,
                                const Request& req, metrics::Registry& metrics,
                                HeaderBlock& headers) {
  const auto key = key_of(limiter.key_spec(), req.client_ip, req.fields, tc.key);
  Decision d;
  redis::Error e = redis::Error::connect;
  std::string why = "no redis section";
  if (redis) {
    // In this frame, not in the thread's buffers: the call waits (for a connection, for
    // the answer) while other requests of the thread make their own keys.
    std::string redis_key;
    limiter.redis_key(key, redis_key);
    const std::string_view args[] = {redis_key, limiter.interval_us_arg(),
                                     limiter.capacity_arg()};
    redis::Reply reply;
    e = co_await tc.redis().run(*redis, bucket_script(), args, 1, reply, why);
    if (e == redis::Error::none && !read_answer(reply, d)) {
      e = redis::Error::protocol;
      why = "unexpected script answer";
    }
  }
  if (e != redis::Error::none) {
    metrics.count_redis_error(static_cast<std::size_t>(e) - 1);
    const bool deny = redis && redis->deny_on_error;
    warn_once_a_second(e, why, deny);
    co_return Outcome{deny ? Verdict::unavailable : Verdict::unchecked, 0};
  }
  co_return outcome_of(limiter, d, headers);
}

}  // namespace gatehouse::ratelimit
