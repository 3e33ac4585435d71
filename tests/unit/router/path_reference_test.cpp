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
