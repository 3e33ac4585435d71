// The reference normalisation the path fuzzer compares the router with
// (tests/fuzz/path_reference.hpp), checked against RFC 3986 section 5.4, and the
// router checked against the same examples.
#include <gtest/gtest.h>

#include <string>

#include "../../fuzz/path_reference.hpp"
#include "router/normalize.hpp"

namespace ref = gatehouse::fuzz::reference;
using gatehouse::router::normalize_path;

TEST(PathReference, ResolvesEveryRfc3986Section54Example) {
  for (const auto& e : ref::kExamples)
    EXPECT_EQ(ref::resolve(ref::kExampleBase, e.reference), e.target) << '"' << e.reference << '"';
}

TEST(PathReference, RemoveDotSegmentsAsSection524Words) {
  EXPECT_EQ(ref::remove_dot_segments("/a/b/c/./../../g"), "/a/g");
  EXPECT_EQ(ref::remove_dot_segments("mid/content=5/../6"), "mid/6");
  EXPECT_EQ(ref::remove_dot_segments("/.."), "/");
  EXPECT_EQ(ref::remove_dot_segments("//a/../b"), "//b");
}

// The merged (not yet dot-removed) path of each example with a relative path, as a
// request path: the router must give the example's path.
TEST(PathReference, RouterNormalisesTheSection54PathsLikeTheRfc) {
  const ref::Uri base = ref::split_uri(ref::kExampleBase);
  int checked = 0;
  for (const auto& e : ref::kExamples) {
    const ref::Uri r = ref::split_uri(e.reference);
    if (r.scheme || r.authority) continue;
    const std::string merged = r.path.empty()       ? base.path
                               : r.path[0] == '/' ? r.path
                                                  : ref::merge(base, r.path);
    const std::string want = ref::split_uri(e.target).path;
    EXPECT_EQ(normalize_path(merged), want) << '"' << e.reference << "\" merged as " << merged;
    EXPECT_EQ(ref::normalize(merged), want) << merged;
    ++checked;
  }
  EXPECT_EQ(checked, 39);
}

TEST(PathReference, SpecSection3Rules) {
  // Unreserved escapes decoded first (so %2e%2e is ".."), others kept in upper case.
  EXPECT_EQ(ref::normalize("/a/%2e%2E/b"), "/b");
  EXPECT_EQ(ref::normalize("/a%2fb%5c%41"), "/a%2Fb%5CA");
  EXPECT_EQ(ref::normalize("//a//b/"), "//a//b/");  // "//" is not merged
  EXPECT_EQ(ref::normalize("a/b"), std::nullopt);   // not origin-form
  EXPECT_EQ(ref::normalize("/a%2"), std::nullopt);
  EXPECT_EQ(ref::normalize("/a%g0"), std::nullopt);
  EXPECT_EQ(ref::normalize("/a b"), std::nullopt);
  EXPECT_EQ(ref::normalize("/a[b]"), std::nullopt);  // gen-delims are not pchar
  for (const char* p : {"/a/%2e%2E/b", "/a%2fb%5c%41", "//a//b/", "a/b", "/a%2", "/a[b]"})
    EXPECT_EQ(normalize_path(p), ref::normalize(p)) << p;
}

// Every path of up to seven bytes over an alphabet that makes dot segments, escapes,
// empty segments and refused bytes, router against reference: the paths the router
// hands back unchanged without rebuilding them, and those it rebuilds, alike.
TEST(PathReference, RouterAgreesWithTheReferenceOnEveryShortPath) {
  constexpr std::string_view kAlphabet = "/.a%2eE~![";
  int checked = 0, unchanged = 0;
  std::string path = "/";
  const auto visit = [&](auto&& self, std::size_t depth) -> void {
    const auto got = normalize_path(path);
    ASSERT_EQ(got, ref::normalize(path)) << '"' << path << '"';
    ++checked;
    if (got && *got == path) ++unchanged;
    if (depth == 6) return;
    for (char c : kAlphabet) {
      path.push_back(c);
      self(self, depth + 1);
      path.pop_back();
    }
  };
  visit(visit, 0);
  EXPECT_EQ(checked, 1111111);  // 1 + 10 + ... + 10^6
  EXPECT_GT(unchanged, 1000);
}
