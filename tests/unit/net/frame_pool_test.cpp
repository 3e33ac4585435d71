#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "net/frame_pool.hpp"

namespace gatehouse::net {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPooled = false;
#else
constexpr bool kPooled = true;
#endif

TEST(FramePool, ReusesAFreedFrameOfTheSameSizeClass) {
  frame_pool::release_unused();
  void* a = frame_pool::allocate(600);
  std::memset(a, 0xab, 600);
  frame_pool::deallocate(a, 600);
  void* b = frame_pool::allocate(580);  // same 64-byte class (577..640)
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
  void* large = frame_pool::allocate(1200);
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
  void* c = frame_pool::allocate(300);
  void* d = frame_pool::allocate(300);
  if (kPooled) {
    EXPECT_EQ(c, b);  // the hottest block first
    EXPECT_EQ(d, a);
  }
  frame_pool::deallocate(c, 300);
  frame_pool::deallocate(d, 300);
}

TEST(FramePool, HugeFramesBypassThePool) {
  void* p = frame_pool::allocate(64 * 1024);
  std::memset(p, 1, 64 * 1024);
  frame_pool::deallocate(p, 64 * 1024);
}

TEST(FramePool, ReleaseUnusedEmptiesThisThreadsLists) {
  void* a = frame_pool::allocate(200);
  frame_pool::deallocate(a, 200);
  frame_pool::release_unused();
  // Whatever comes back now is a fresh block; it must be writable in full.
  void* b = frame_pool::allocate(200);
  std::memset(b, 2, 200);
  frame_pool::deallocate(b, 200);
}

TEST(FramePool, EachThreadHasItsOwnLists) {
  void* mine = frame_pool::allocate(400);
  frame_pool::deallocate(mine, 400);
  void* theirs = nullptr;
  std::thread t([&] {
    theirs = frame_pool::allocate(400);
    std::memset(theirs, 3, 400);
    frame_pool::deallocate(theirs, 400);
  });
  t.join();
  if (kPooled) {
    EXPECT_NE(mine, theirs);
  }  // the other thread did not take this one
  void* again = frame_pool::allocate(400);
  if (kPooled) {
    EXPECT_EQ(again, mine);
  }
  frame_pool::deallocate(again, 400);
}

TEST(FramePool, ManyLiveFramesStayDistinct) {
  std::vector<void*> live;
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
