#include "balance/retry_budget.hpp"

#include <algorithm>
#include <cmath>

namespace gatehouse::balance {

RetryBudget::RetryBudget(double share, unsigned shards, const Clock& clock)
    : share_(std::clamp(share, 0.0, 1.0)),
      clock_(clock),
      shard_count_(std::max(shards, 1u)),
      shards_(std::make_unique<Shard[]>(shard_count_)) {}

std::int64_t RetryBudget::second_of(Clock::SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Only the shard's own thread moves a slot to a new second, so the reset needs no
// compare-and-swap; a reader on another thread may see a slot mid-reset, which at
// worst counts one second's requests a moment early or late.
RetryBudget::Slot& RetryBudget::slot_at(unsigned shard, std::int64_t second) {
  constexpr auto n = static_cast<std::int64_t>(kSlots);
  return shards_[shard % shard_count_].slots[static_cast<std::size_t>((second % n + n) % n)];
}

RetryBudget::Slot& RetryBudget::slot_for(unsigned shard, std::int64_t second) {
  Slot& s = slot_at(shard, second);
  if (s.second.load(std::memory_order_relaxed) != second) {
    s.requests.store(0, std::memory_order_relaxed);
    s.retries.store(0, std::memory_order_relaxed);
    s.second.store(second, std::memory_order_release);
  }
  return s;
}

void RetryBudget::on_request(unsigned shard, Clock::SteadyTime now) {
  slot_for(shard, second_of(now)).requests.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t RetryBudget::sum(std::int64_t now_second,
                               std::atomic<std::uint64_t> Slot::*field) const {
  std::uint64_t total = 0;
  const std::int64_t oldest = now_second - static_cast<std::int64_t>(kSlots) + 1;
  for (unsigned i = 0; i < shard_count_; ++i) {
    for (const Slot& s : shards_[i].slots) {
      const std::int64_t second = s.second.load(std::memory_order_acquire);
      if (second >= oldest && second <= now_second) {
        total += (s.*field).load(std::memory_order_relaxed);
      }
    }
  }
  return total;
}

std::uint64_t RetryBudget::requests(Clock::SteadyTime now) const {
  return sum(second_of(now), &Slot::requests);
}

std::uint64_t RetryBudget::retries(Clock::SteadyTime now) const {
  return sum(second_of(now), &Slot::retries);
}

std::uint64_t RetryBudget::allowed(Clock::SteadyTime now) const {
  const auto share = static_cast<std::uint64_t>(
      std::floor(share_ * static_cast<double>(requests(now)) + 1e-9));
  return std::max(kFloor, share);
}

bool RetryBudget::try_acquire(unsigned shard, Clock::SteadyTime now) {
  if (retries(now) >= allowed(now)) return false;
  slot_for(shard, second_of(now)).retries.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void RetryBudget::refund(unsigned shard, Clock::SteadyTime taken) {
  const std::int64_t second = second_of(taken);
  Slot& s = slot_at(shard, second);
  if (s.second.load(std::memory_order_relaxed) != second) return;
  auto count = s.retries.load(std::memory_order_relaxed);
  // Only this shard's thread counts into the slot: no other writer to race with.
  if (count > 0) s.retries.store(count - 1, std::memory_order_relaxed);
}

}  // namespace gatehouse::balance
