#include "net/frame_pool.hpp"
#include "net/pooling.hpp"

#include <array>
#include <new>

namespace gatehouse::net::frame_pool {

namespace {

constexpr std::size_t kGranule = 64;                 // size classes are 64 bytes apart
constexpr std::size_t kClasses = 48;                 // up to 3 KiB; larger frames use new
constexpr std::size_t kMaxFreePerClass = 1024;       // bounds what a peak leaves behind

struct Block {
  Block* next;
};

struct Pool {
  std::array<Block*, kClasses> head{};
  std::array<std::size_t, kClasses> count{};

  ~Pool();
  void release() noexcept {
    for (std::size_t c = 0; c < kClasses; ++c) {
      while (Block* b = head[c]) {
        head[c] = b->next;
        ::operator delete(static_cast<void*>(b));
      }
      count[c] = 0;
    }
  }
};

thread_local Pool pool;
// Trivially destructible, so it can be read after `pool` is gone (frames freed while
// the thread or the process ends go straight back to the allocator).
thread_local bool pool_gone = false;

Pool::~Pool() {
  pool_gone = true;
  release();
}

std::size_t class_of(std::size_t size) { return (size + kGranule - 1) / kGranule - 1; }

}  // namespace

void* allocate(std::size_t size) {
  const std::size_t c = class_of(size);
  if (!kPooling || c >= kClasses) return ::operator new(size);
  if (Block* b = pool.head[c]) {
    pool.head[c] = b->next;
    --pool.count[c];
    return b;
  }
  return ::operator new((c + 1) * kGranule);
}

void deallocate(void* p, std::size_t size) noexcept {
  const std::size_t c = class_of(size);
  if (!kPooling || c >= kClasses || pool_gone || pool.count[c] >= kMaxFreePerClass) {
    ::operator delete(p);
    return;
  }
  auto* b = static_cast<Block*>(p);
  b->next = pool.head[c];
  pool.head[c] = b;
  ++pool.count[c];
}

void release_unused() noexcept {
  if (kPooling && !pool_gone) pool.release();
}

}  // namespace gatehouse::net::frame_pool
