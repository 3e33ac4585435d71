// registry::RetiredSnapshots: a replaced snapshot is freed by release(), on the thread
// that calls it, once nothing else holds it; never by the last other holder.
#include <gtest/gtest.h>

#include <thread>

#include "registry/retired.hpp"

namespace gatehouse::registry {
namespace {

struct Freed {
  std::thread::id on{};
  int count = 0;
};

std::shared_ptr<const Snapshot> tracked(Freed& freed) {
  return std::shared_ptr<const Snapshot>(new Snapshot, [&freed](const Snapshot* s) {
    freed.on = std::this_thread::get_id();
    ++freed.count;
    delete s;
  });
}

TEST(RetiredSnapshots, TheLastOtherHolderDoesNotFreeIt) {
  Freed freed;
  RetiredSnapshots retired;
  auto snap = tracked(freed);
  auto worker_copy = snap;  // e.g. a request still running on a worker
  retired.add(std::move(snap));
  EXPECT_EQ(retired.release(), 0u);
  std::thread([copy = std::move(worker_copy)]() mutable { copy.reset(); }).join();
  EXPECT_EQ(freed.count, 0);
  EXPECT_EQ(retired.release(), 1u);
  EXPECT_EQ(freed.count, 1);
  EXPECT_EQ(freed.on, std::this_thread::get_id());
  EXPECT_TRUE(retired.empty());
}

TEST(RetiredSnapshots, OnlyTheOnesNoOneHoldsAreFreed) {
  Freed a, b;
  RetiredSnapshots retired;
  retired.add(tracked(a));
  auto held = tracked(b);
  retired.add(held);
  EXPECT_EQ(retired.release(), 1u);
  EXPECT_EQ(a.count, 1);
  EXPECT_EQ(b.count, 0);
  EXPECT_EQ(retired.size(), 1u);
}

}  // namespace
}  // namespace gatehouse::registry
