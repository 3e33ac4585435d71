// balance/: the retry budget of one endpoint (SPEC section 13): retries may be at most
// `budget` of the endpoint's client requests (retries not counted) over the last 10 s,
// and at least 30 per 10 s whatever the traffic, so a quiet endpoint can still retry.
// Past it, the failure is answered as it is.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "common/clock.hpp"

namespace gatehouse::balance {

class RetryBudget {
 public:
  static constexpr std::chrono::seconds kWindow{10};
  static constexpr std::uint64_t kFloor = 30;  // retries per window

  // `share`: 0..1 (retries.budget). `shards`: worker threads; each records into its
  // own slots (one relaxed increment per request, no shared cache line), and a retry
  // decision sums every shard's last 10 one-second slots. Concurrent decisions on
  // different threads may overshoot the cap by at most one retry per thread.
  RetryBudget(double share, unsigned shards, const Clock& clock);

  Clock::SteadyTime now() const { return clock_.steady_now(); }

  // A client request to the endpoint (a new request, not a retry of one).
  void on_request(unsigned shard) { on_request(shard, clock_.steady_now()); }
  void on_request(unsigned shard, Clock::SteadyTime now);

  // May one more retry be made now? If so it is counted.
  bool try_acquire(unsigned shard) { return try_acquire(shard, clock_.steady_now()); }
  bool try_acquire(unsigned shard, Clock::SteadyTime now);

  // Gives back a retry try_acquire counted at `taken` that was not made after all (every
  // server refused it). Only within the same second: a retry taken and given back is
  // one decision, made without waiting.
  void refund(unsigned shard, Clock::SteadyTime taken);

  // Over the window ending now (for tests and the stats).
  std::uint64_t requests(Clock::SteadyTime now) const;
  std::uint64_t retries(Clock::SteadyTime now) const;
  std::uint64_t allowed(Clock::SteadyTime now) const;  // max(floor, share * requests)

 private:
  static constexpr std::size_t kSlots = 10;  // one per second of the window

  struct Slot {
    std::atomic<std::int64_t> second{-1};  // which steady second the counts are of
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> retries{0};
  };
  struct alignas(64) Shard {
    std::array<Slot, kSlots> slots;
  };

  // The slot of `second` in `shard`'s ring, as it is (it may hold an older second).
  Slot& slot_at(unsigned shard, std::int64_t second);
  // The same, reset first when it held an older second.
  Slot& slot_for(unsigned shard, std::int64_t second);
  std::uint64_t sum(std::int64_t now_second, std::atomic<std::uint64_t> Slot::*field) const;
  static std::int64_t second_of(Clock::SteadyTime t);

  double share_;
  const Clock& clock_;
  unsigned shard_count_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace gatehouse::balance
