#include "net/tls_memory.hpp"
#include "net/pooling.hpp"

#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

// Installed while this binary starts, before any test can touch OpenSSL (as main does
// in gatehouse): every TLS test of this binary then runs on these lists too.
namespace {
const bool installed_at_start = gatehouse::net::tls_memory::install();
}

namespace gatehouse::net {
namespace {

constexpr bool kPooled = kPooling;

TEST(TlsMemory, IsInstalledBeforeOpenSslsFirstAllocation) {
  EXPECT_EQ(installed_at_start, kPooled);
  // Installing again (the same functions) changes nothing for the blocks already out.
  void* p = OPENSSL_malloc(10);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(tls_memory::install(), kPooled);
  OPENSSL_free(p);
}

TEST(TlsMemory, OpenSslsAllocationsComeFromTheLists) {
  tls_memory::release_unused();
  void* p = OPENSSL_malloc(200);
  ASSERT_NE(p, nullptr);
  std::memset(p, 0x5a, 200);
  OPENSSL_free(p);
  EXPECT_EQ(tls_memory::cached_bytes(), kPooled ? 208u : 0u);  // its 16-byte class
  void* q = OPENSSL_malloc(193);  // the same class (193..208)
  if (kPooled) {
    EXPECT_EQ(p, q);
  }
  EXPECT_EQ(tls_memory::cached_bytes(), 0u);
  OPENSSL_free(q);
}

TEST(TlsMemory, BlocksAreAlignedForAnyType) {
  std::vector<void*> blocks;
  for (std::size_t size : {1u, 15u, 16u, 17u, 1000u, 1025u, 5000u, 16709u, 70000u}) {
    void* p = tls_memory::allocate(size);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % alignof(std::max_align_t), 0u) << size;
    std::memset(p, 1, size);  // the whole size is usable
    blocks.push_back(p);
  }
  for (void* p : blocks) tls_memory::deallocate(p);
}

TEST(TlsMemory, KeepsSizeClassesApart) {
  tls_memory::release_unused();
  void* small = tls_memory::allocate(100);
  tls_memory::deallocate(small);
  void* large = tls_memory::allocate(2000);
  EXPECT_NE(small, large);
  EXPECT_EQ(tls_memory::cached_bytes(), kPooled ? 112u : 0u);  // the 100-byte block stays
  tls_memory::deallocate(large);
  // 2000 bytes: the class of 1793..2048.
  EXPECT_EQ(tls_memory::cached_bytes(), kPooled ? 112u + 2048u : 0u);
  tls_memory::release_unused();
  EXPECT_EQ(tls_memory::cached_bytes(), 0u);
}

TEST(TlsMemory, RecordBuffersAreKeptLargerBlocksAreNot) {
  tls_memory::release_unused();
  void* record = tls_memory::allocate(16709);  // a TLS read buffer: class 16385..20480
  tls_memory::deallocate(record);
  EXPECT_EQ(tls_memory::cached_bytes(), kPooled ? 20480u : 0u);
  void* huge = tls_memory::allocate(64 * 1024 + 1);
  tls_memory::deallocate(huge);
  EXPECT_EQ(tls_memory::cached_bytes(), kPooled ? 20480u : 0u);
  tls_memory::release_unused();
}

TEST(TlsMemory, ReallocateKeepsTheContentsAcrossClasses) {
  auto* p = static_cast<unsigned char*>(tls_memory::allocate(40));
  for (int i = 0; i < 40; ++i) p[i] = static_cast<unsigned char>(i);
  // Within its class (33..48): the same block.
  auto* same = static_cast<unsigned char*>(tls_memory::reallocate(p, 48));
  if (kPooled) {
    EXPECT_EQ(same, p);
  }
  // Growing: a new block with the old bytes, through small and large classes.
  auto* grown = static_cast<unsigned char*>(tls_memory::reallocate(same, 3000));
  ASSERT_NE(grown, nullptr);
  for (int i = 0; i < 40; ++i) ASSERT_EQ(grown[i], i);
  std::memset(grown + 40, 0xee, 3000 - 40);
  auto* huge = static_cast<unsigned char*>(tls_memory::reallocate(grown, 100000));
  ASSERT_NE(huge, nullptr);
  for (int i = 0; i < 40; ++i) ASSERT_EQ(huge[i], i);
  EXPECT_EQ(huge[2999], 0xee);
  // Shrinking keeps what fits.
  auto* shrunk = static_cast<unsigned char*>(tls_memory::reallocate(huge, 20));
  ASSERT_NE(shrunk, nullptr);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(shrunk[i], i);
  tls_memory::deallocate(shrunk);
}

TEST(TlsMemory, ReallocateOfNothingAllocatesAndToZeroFrees) {
  tls_memory::release_unused();
  void* p = tls_memory::reallocate(nullptr, 64);
  ASSERT_NE(p, nullptr);
  std::memset(p, 0, 64);
  EXPECT_EQ(tls_memory::reallocate(p, 0), nullptr);
  EXPECT_EQ(tls_memory::cached_bytes(), kPooled ? 64u : 0u);
  tls_memory::deallocate(nullptr);  // as free(NULL)
  tls_memory::release_unused();
}

TEST(TlsMemory, WhatAThreadKeepsIsBounded) {
  tls_memory::release_unused();
  std::vector<void*> blocks;
  for (int i = 0; i < 400; ++i) blocks.push_back(tls_memory::allocate(16 * 1024));  // 6.25 MiB
  for (void* p : blocks) tls_memory::deallocate(p);
  EXPECT_LE(tls_memory::cached_bytes(), 2u * 1024 * 1024);
  if (kPooled) {
    EXPECT_GT(tls_memory::cached_bytes(), 2u * 1024 * 1024 - 16 * 1024);  // filled up to it
  }
  tls_memory::release_unused();
  EXPECT_EQ(tls_memory::cached_bytes(), 0u);
}

TEST(TlsMemory, ADoubleFreeStopsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        void* p = tls_memory::allocate(120);
        tls_memory::deallocate(p);
        tls_memory::deallocate(p);
      },
      // AddressSanitizer build: malloc's own block, which ASan sees read after its free.
      kPooled ? "freed twice" : "heap-use-after-free|double-free");
}

TEST(TlsMemory, ACachedBlockIsHandedOutOnceAndAliveAgain) {
  tls_memory::release_unused();
  void* a = tls_memory::allocate(700);
  tls_memory::deallocate(a);
  void* b = tls_memory::allocate(700);
  void* c = tls_memory::allocate(700);  // the list is empty again: a fresh block
  EXPECT_NE(b, c);
  tls_memory::deallocate(b);  // alive again, so this is no double free
  tls_memory::deallocate(c);
  tls_memory::release_unused();
}

TEST(TlsMemory, ABlockFreedOnAnotherThreadIsKeptThere) {
  tls_memory::release_unused();
  void* p = tls_memory::allocate(500);
  std::size_t theirs = 0, after_release = 1;
  std::thread t([&] {
    tls_memory::deallocate(p);
    theirs = tls_memory::cached_bytes();
    tls_memory::release_unused();
    after_release = tls_memory::cached_bytes();
  });
  t.join();
  EXPECT_EQ(theirs, kPooled ? 512u : 0u);
  EXPECT_EQ(after_release, 0u);
  EXPECT_EQ(tls_memory::cached_bytes(), 0u);  // not this thread's
}

TEST(TlsMemory, AThreadEndsCleanlyWithBlocksKept) {
  // What the thread's end gives back is not visible from here (under valgrind or
  // LeakSanitizer a kept block lost then would be a leak); checked: a thread with a
  // block kept, and one whose OpenSSL work frees while it ends, both end normally.
  std::thread t([] {
    void* kept = tls_memory::allocate(300);
    tls_memory::deallocate(kept);
    EXPECT_EQ(tls_memory::cached_bytes(), kPooled ? 304u : 0u);
  });
  t.join();
  // A real OpenSSL workload on a thread of its own, ending with the thread.
  std::thread digest([] {
    unsigned char out[32];
    unsigned int len = 0;
    EXPECT_EQ(EVP_Digest("abc", 3, out, &len, EVP_sha256(), nullptr), 1);
    EXPECT_EQ(len, 32u);
  });
  digest.join();
}

}  // namespace
}  // namespace gatehouse::net
