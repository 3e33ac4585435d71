#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "net/frame_pool.hpp"
#include "net/pooling.hpp"

// The pool's claims are about when it goes to the allocator, so this binary counts the
// calls of the replaceable global operator new/delete, per thread. Both build modes are
// then checked: the pooled one (a freed frame is reused, no allocator call) and the
// AddressSanitizer one (the pool keeps nothing, so every frame is a fresh allocation
// whose lifetime ASan sees).
namespace {
thread_local std::size_t news = 0;
thread_local std::size_t deletes = 0;
}  // namespace

void* operator new(std::size_t size) {
  ++news;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  if (p) ++deletes;
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }

namespace gatehouse::net {
namespace {

constexpr bool kPooled = kPooling;

// Allocator calls made on this thread since construction.
struct Calls {
  std::size_t news_at = news, deletes_at = deletes;
  std::size_t allocations() const { return news - news_at; }
  std::size_t frees() const { return deletes - deletes_at; }
};

TEST(FramePool, ReusesAFreedFrameOfTheSameSizeClass) {
  frame_pool::release_unused();
  void* a = frame_pool::allocate(600);
  std::memset(a, 0xab, 600);
  const Calls freeing;
  frame_pool::deallocate(a, 600);
  EXPECT_EQ(freeing.frees(), kPooled ? 0u : 1u);
  const Calls reusing;
  void* b = frame_pool::allocate(580);  // same 64-byte class (577..640)
  EXPECT_EQ(reusing.allocations(), kPooled ? 0u : 1u);
  if (kPooled) {
    EXPECT_EQ(a, b);
  }
  std::memset(b, 0xcd, 580);
  frame_pool::deallocate(b, 580);
}

TEST(FramePool, KeepsSizeClassesApart) {
  frame_pool::release_unused();
  void* small = frame_pool::allocate(100);
  frame_pool::deallocate(small, 100);
  const Calls calls;
  void* large = frame_pool::allocate(1200);
  EXPECT_EQ(calls.allocations(), 1u);  // the free 100-byte block does not serve it
  EXPECT_NE(small, large);
  std::memset(large, 0, 1200);  // the whole size is usable
  frame_pool::deallocate(large, 1200);
}

TEST(FramePool, LastFreedIsFirstReused) {
  frame_pool::release_unused();
  void* a = frame_pool::allocate(300);
  void* b = frame_pool::allocate(300);
  EXPECT_NE(a, b);
  frame_pool::deallocate(a, 300);
  frame_pool::deallocate(b, 300);
  const Calls calls;
  void* c = frame_pool::allocate(300);
  void* d = frame_pool::allocate(300);
  EXPECT_EQ(calls.allocations(), kPooled ? 0u : 2u);
  if (kPooled) {
    EXPECT_EQ(c, b);  // the hottest block first
    EXPECT_EQ(d, a);
  }
  frame_pool::deallocate(c, 300);
  frame_pool::deallocate(d, 300);
}

TEST(FramePool, HugeFramesBypassThePool) {
  frame_pool::release_unused();
  for (int round = 0; round < 2; ++round) {  // the second one finds nothing kept
    const Calls calls;
    void* p = frame_pool::allocate(64 * 1024);
    EXPECT_EQ(calls.allocations(), 1u) << "round " << round;
    std::memset(p, 1, 64 * 1024);
    frame_pool::deallocate(p, 64 * 1024);
    EXPECT_EQ(calls.frees(), 1u) << "round " << round;
  }
}

TEST(FramePool, ReleaseUnusedEmptiesThisThreadsLists) {
  frame_pool::release_unused();
  void* a = frame_pool::allocate(200);
  const Calls calls;
  frame_pool::deallocate(a, 200);
  frame_pool::release_unused();
  // Pooled: the block was kept, then given back; unpooled: given back at once.
  EXPECT_EQ(calls.frees(), 1u);
  const Calls after;
  void* b = frame_pool::allocate(200);  // a fresh block: nothing left to reuse
  EXPECT_EQ(after.allocations(), 1u);
  std::memset(b, 2, 200);
  frame_pool::deallocate(b, 200);
}

TEST(FramePool, EachThreadHasItsOwnLists) {
  frame_pool::release_unused();
  void* mine = frame_pool::allocate(400);
  frame_pool::deallocate(mine, 400);
  void* theirs = nullptr;
  std::size_t their_allocations = 0;
  std::thread t([&] {
    const Calls calls;
    theirs = frame_pool::allocate(400);
    their_allocations = calls.allocations();  // this thread's list is empty
    std::memset(theirs, 3, 400);
    frame_pool::deallocate(theirs, 400);
  });
  t.join();
  EXPECT_EQ(their_allocations, 1u);
  if (kPooled) {
    EXPECT_NE(mine, theirs);  // the other thread did not take this one
  }
  const Calls calls;
  void* again = frame_pool::allocate(400);
  EXPECT_EQ(calls.allocations(), kPooled ? 0u : 1u);
  if (kPooled) {
    EXPECT_EQ(again, mine);
  }
  frame_pool::deallocate(again, 400);
}

TEST(FramePool, ManyLiveFramesStayDistinct) {
  std::vector<void*> live;
  live.reserve(2000);
  for (int i = 0; i < 2000; ++i) {
    live.push_back(frame_pool::allocate(256));
    std::memset(live.back(), i & 0xff, 256);
  }
  for (int i = 0; i < 2000; ++i)
    EXPECT_EQ(static_cast<unsigned char*>(live[i])[255], static_cast<unsigned char>(i & 0xff));
  for (void* p : live) frame_pool::deallocate(p, 256);  // beyond the per-class cap too
}

}  // namespace
}  // namespace gatehouse::net
