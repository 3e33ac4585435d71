// health/: a block of per-endpoint state allocated the first time it is written, so an
// endpoint that never takes a request costs one null pointer instead of kilobytes of
// zeros (shards, latency windows). Publication is lock-free: racing first writers each
// build a block, one compare_exchange wins, the others free theirs. Once allocated, get()
// is one acquire load (a plain load on x86) and a predicted branch.
#pragma once

#include <atomic>
#include <memory>

namespace gatehouse::health {

template <class T>
class LazyBlock {
 public:
  LazyBlock() = default;
  ~LazyBlock() { delete ptr_.load(std::memory_order_acquire); }
  LazyBlock(const LazyBlock&) = delete;
  LazyBlock& operator=(const LazyBlock&) = delete;

  // The block, allocated (value-initialised) on first use; any thread.
  T& get() {
    T* p = ptr_.load(std::memory_order_acquire);
    if (p) [[likely]]
      return *p;
    return allocate(p);
  }
  // The block if it exists; readers that find none see all zeros.
  const T* peek() const { return ptr_.load(std::memory_order_acquire); }

 private:
  [[gnu::noinline]] T& allocate(T* seen) {
    auto fresh = std::make_unique<T>();
    if (ptr_.compare_exchange_strong(seen, fresh.get(), std::memory_order_acq_rel))
      return *fresh.release();
    return *seen;  // another thread published first
  }

  std::atomic<T*> ptr_{nullptr};
};

}  // namespace gatehouse::health
