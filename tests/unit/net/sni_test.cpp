// SNI: which certificate a requested name gets.
#include <gtest/gtest.h>

#include "net/sni.hpp"

namespace gatehouse::net {
namespace {

SniTable table() {
  SniTable t;
  t.add(0, {"gatehouse.example"});
  t.add(1, {"api.example.com", "*.apps.example.com"});
  t.add(2, {"*.example.com", "API.EXAMPLE.COM", "a*.example.org"});
  return t;
}

TEST(Sni, ExactNameIsCaseInsensitiveAndIgnoresATrailingDot) {
  const auto t = table();
  EXPECT_EQ(t.choose("api.example.com"), 1u);
  EXPECT_EQ(t.choose("API.Example.Com"), 1u);
  EXPECT_EQ(t.choose("api.example.com."), 1u);
  EXPECT_EQ(t.choose("gatehouse.example"), 0u);
}

TEST(Sni, WildcardMatchesExactlyOneLabel) {
  const auto t = table();
  EXPECT_EQ(t.choose("www.example.com"), 2u);
  EXPECT_EQ(t.choose("WWW.EXAMPLE.COM"), 2u);
  EXPECT_EQ(t.choose("x.apps.example.com"), 1u);
  // Two labels in front: neither *.example.com nor anything else.
  EXPECT_EQ(t.choose("a.b.example.com"), 0u);
  EXPECT_EQ(t.choose("a.b.apps.example.com"), 0u);
  // The bare domain is not covered by its wildcard.
  EXPECT_EQ(t.choose("example.com"), 0u);
  EXPECT_EQ(t.choose(".example.com"), 0u);
}

TEST(Sni, ExactNameBeatsWildcardAndTheFirstCertificateKeepsAName) {
  const auto t = table();
  // api.example.com is exact in certificate 1 and also under certificate 2's wildcard.
  EXPECT_EQ(t.choose("api.example.com"), 1u);
}

TEST(Sni, NoNameOrNoMatchIsTheDefault) {
  const auto t = table();
  EXPECT_EQ(t.choose(""), 0u);
  EXPECT_EQ(t.choose("unknown.test"), 0u);
  EXPECT_EQ(t.choose("localhost"), 0u);
  // Partial wildcards match nothing.
  EXPECT_EQ(t.choose("ab.example.org"), 0u);
  EXPECT_EQ(t.choose("a*.example.org"), 0u);
}

}  // namespace
}  // namespace gatehouse::net
