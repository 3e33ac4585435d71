#include "common/ascii.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace gatehouse {
namespace {

bool naive_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

TEST(Iequals, HeaderNames) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("TRANSFER-ENCODING", "transfer-encoding"));
  EXPECT_FALSE(iequals("Content-Lengti", "content-length"));
  EXPECT_FALSE(iequals("content-length", "content-lengthx"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("Host", "Hos"));
  // Only ASCII letters fold: '@' and '`', '[' and '{', non-ASCII bytes stay distinct.
  EXPECT_FALSE(iequals("@@@@@@@@", "````````"));
  EXPECT_FALSE(iequals("[[[[[[[[[", "{{{{{{{{{"));
  EXPECT_FALSE(iequals("\xc1\xc1\xc1\xc1\xc1\xc1\xc1\xc1", "\xe1\xe1\xe1\xe1\xe1\xe1\xe1\xe1"));
  EXPECT_FALSE(iequals("aaaaaaaa\r", "aaaaaaaa-"));
}

TEST(Iequals, AgreesWithTheByteByByteDefinitionOnEveryBytePair) {
  // Every byte pair at every position of a 9..17-byte string (the word paths).
  for (std::size_t len : {1u, 7u, 8u, 9u, 15u, 16u, 17u}) {
    for (std::size_t pos = 0; pos < len; ++pos) {
      std::string a(len, 'k'), b(len, 'K');
      for (int x = 0; x < 256; ++x)
        for (int y = 0; y < 256; y += 7) {
          a[pos] = static_cast<char>(x);
          b[pos] = static_cast<char>(y);
          ASSERT_EQ(iequals(a, b), naive_iequals(a, b)) << len << " " << pos << " " << x << " " << y;
        }
    }
  }
}

TEST(Iequals, AgreesOnRandomStrings) {
  std::mt19937 rng(7);
  const std::string alphabet = "aAzZ@[`{-_09\x80\xc1\xe1\xff";
  for (int i = 0; i < 20000; ++i) {
    const std::size_t len = rng() % 24;
    std::string a(len, ' '), b;
    for (auto& c : a) c = alphabet[rng() % alphabet.size()];
    b = a;
    for (auto& c : b)
      if (rng() % 3 == 0) c = alphabet[rng() % alphabet.size()];
    ASSERT_EQ(iequals(a, b), naive_iequals(a, b)) << a << " / " << b;
  }
}

}  // namespace
}  // namespace gatehouse
