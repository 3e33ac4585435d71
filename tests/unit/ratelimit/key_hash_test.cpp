// SipHash-2-4 (64- and 128-bit output) against the reference vectors (key 00 01 .. 0f,
// message 00 01 .. n-1): the 64-bit empty and 15-byte ones are the paper's, the 128-bit
// empty and 1-byte ones the reference implementation's; the others (from an independent
// implementation agreeing with those) cover every tail length, with and without whole
// 8-byte words before it. Loads must not depend on the data's alignment.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>

#include "ratelimit/key_hash.hpp"

namespace gatehouse::ratelimit {
namespace {

constexpr HashKey kReferenceKey{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

std::string counting(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(i));
  return s;
}

TEST(SipHash, MatchesTheReferenceVectors) {
  const std::pair<std::size_t, std::uint64_t> vectors[] = {
      {0, 0x726fdb47dd0e0e31ULL},
      {1, 0x74f839c593dc67fdULL},
      {2, 0x0d6c8009d9a94f5aULL},
      {3, 0x85676696d7fb7e2dULL},
      {4, 0xcf2794e0277187b7ULL},
      {5, 0x18765564cd99a68dULL},
      {6, 0xcbc9466e58fee3ceULL},
      {7, 0xab0200f58b01d137ULL},
      {8, 0x93f5f5799a932462ULL},
      {9, 0x9e0082df0ba9e4b0ULL},
      {10, 0x7a5dbbc594ddb9f3ULL},
      {11, 0xf4b32f46226bada7ULL},
      {12, 0x751e8fbc860ee5fbULL},
      {13, 0x14ea5627c0843d90ULL},
      {14, 0xf723ca908e7af2eeULL},
      {15, 0xa129ca6149be45e5ULL},
      {16, 0x3f2acc7f57c29bdbULL},
      {17, 0x699ae9f52cbe4794ULL},
      {31, 0x32d892fad841c342ULL},
      {63, 0x958a324ceb064572ULL},
  };
  for (const auto& [n, want] : vectors) EXPECT_EQ(siphash24(kReferenceKey, counting(n)), want) << n;
}

TEST(SipHash, The128BitOutputMatchesTheReferenceVectors) {
  struct Vector {
    std::size_t n;
    std::uint64_t hi, lo;
  };
  const Vector vectors[] = {
      {0, 0xe6a825ba047f81a3ULL, 0x930255c71472f66dULL},
      {1, 0x44af996bd8c187daULL, 0x45fc229b11597634ULL},
      {2, 0xc75da4a48d227781ULL, 0xe4ff0af6de8ba3fcULL},
      {3, 0x4ea967520cb6709cULL, 0x51ed8529b0b6335fULL},
      {4, 0xaf8f9c2dc16481f8ULL, 0x7955cd7b7c6e0f7dULL},
      {5, 0x886f778059876813ULL, 0x27960e69077a5254ULL},
      {6, 0x1386208b33caee14ULL, 0x5ea1d78f30a05e48ULL},
      {7, 0x53c1dbd8beebf1a1ULL, 0x3982f01fa64ab8c0ULL},
      {8, 0x61f55862baa9623bULL, 0xb49714f364e2830fULL},
      {9, 0xabbad90a06994426ULL, 0xed716dbb028b7fc4ULL},
      {10, 0x56691478c30d1100ULL, 0xbafbd0f3d34754c9ULL},
      {11, 0x77666b3868c55101ULL, 0x18dce5816fdcb4a2ULL},
      {12, 0x58f35e9066b226d6ULL, 0x25c13285f64d6382ULL},
      {13, 0x108bc0e947e26998ULL, 0xf752b9c44f9329d0ULL},
      {14, 0x9cded766aceffc31ULL, 0x024949e45f48c77eULL},
      {15, 0x11a8b03399e99354ULL, 0xd9c3cf970fec087eULL},
      {16, 0xbb54b067caa4e26eULL, 0x77052385bf1533fdULL},
      {17, 0x98b88d73e8063d47ULL, 0x4077e47ac466c054ULL},
      {31, 0xfcfa233218b03929ULL, 0x353dc4524fde2317ULL},
      {63, 0x4a83502f77d15051ULL, 0x7cbd3f979a063e50ULL},
  };
  for (const auto& v : vectors) {
    const KeyDigest d = siphash24_128(kReferenceKey, counting(v.n));
    EXPECT_EQ(d.hi, v.hi) << v.n;
    EXPECT_EQ(d.lo, v.lo) << v.n;
  }
}

TEST(SipHash, AnEmptyViewWithoutDataHashesLikeAnEmptyString) {
  EXPECT_EQ(siphash24(kReferenceKey, std::string_view{}), 0x726fdb47dd0e0e31ULL);
}

TEST(SipHash, TheDataAlignmentDoesNotMatter) {
  const std::string message = counting(40);
  for (std::size_t offset = 1; offset < 8; ++offset) {
    std::string shifted(offset, 'x');
    shifted += message;
    for (std::size_t n = 0; n <= message.size(); ++n) {
      const auto moved = std::string_view(shifted).substr(offset, n);
      const auto aligned = std::string_view(message).substr(0, n);
      EXPECT_EQ(siphash24(kReferenceKey, moved), siphash24(kReferenceKey, aligned)) << offset << " " << n;
      EXPECT_EQ(siphash24_128(kReferenceKey, moved), siphash24_128(kReferenceKey, aligned))
          << offset << " " << n;
    }
  }
}

TEST(KeyDigest, HalvesDifferAndAreNeverZeroHi) {
  const auto d = digest_of(kReferenceKey, "127.0.0.1");
  EXPECT_NE(d.hi, 0u);
  EXPECT_NE(d.hi, d.lo);
  EXPECT_NE(digest_of(kReferenceKey, "127.0.0.2"), d);
}

}  // namespace
}  // namespace gatehouse::ratelimit
