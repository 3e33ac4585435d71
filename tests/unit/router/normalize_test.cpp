#include "router/normalize.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::router {
namespace {

using namespace std::string_literals;

std::optional<std::string> norm(std::string_view p) { return normalize_path(p); }

TEST(NormalizePath, PlainPathsAreUnchanged) {
  EXPECT_EQ(norm("/"), "/");
  EXPECT_EQ(norm("/users"), "/users");
  EXPECT_EQ(norm("/users/"), "/users/");
  EXPECT_EQ(norm("/users/42/orders"), "/users/42/orders");
  EXPECT_EQ(norm("/a-b_c.d~e"), "/a-b_c.d~e");
  EXPECT_EQ(norm("/!$&'()*+,;=:@"), "/!$&'()*+,;=:@");
  EXPECT_EQ(norm("/..."), "/...");
  EXPECT_EQ(norm("/.a/..b/a."), "/.a/..b/a.");
}

TEST(NormalizePath, DoubleSlashIsNotMerged) {
  EXPECT_EQ(norm("/a//b"), "/a//b");
  EXPECT_EQ(norm("//"), "//");
  EXPECT_EQ(norm("//a"), "//a");
  // An empty segment is a segment: ".." removes it, not "a".
  EXPECT_EQ(norm("/a//../b"), "/a/b");
}

TEST(NormalizePath, DotSegments) {
  EXPECT_EQ(norm("/a/../b"), "/b");
  EXPECT_EQ(norm("/a/./b"), "/a/b");
  EXPECT_EQ(norm("/../a"), "/a");
  EXPECT_EQ(norm("/../../a"), "/a");
  EXPECT_EQ(norm("/a/.."), "/");
  EXPECT_EQ(norm("/a/."), "/a/");
  EXPECT_EQ(norm("/."), "/");
  EXPECT_EQ(norm("/.."), "/");
  EXPECT_EQ(norm("/a/b/.."), "/a/");
  EXPECT_EQ(norm("/a/../"), "/");
  EXPECT_EQ(norm("/./"), "/");
  EXPECT_EQ(norm("/users/v1/../../admin"), "/admin");
}

// RFC 3986 5.2.4 worked examples (the absolute-path one; "mid/content=5/../6" is
// relative and appears below in its merged form).
TEST(NormalizePath, Rfc3986Section524Examples) {
  EXPECT_EQ(norm("/a/b/c/./../../g"), "/a/g");
  EXPECT_EQ(norm("/mid/content=5/../6"), "/mid/6");
}

// RFC 3986 5.4 examples against base "http://a/b/c/d;p?q", taken after the merge step
// (5.2.3), i.e. the path that 5.2.4 receives, with the expected result path.
TEST(NormalizePath, Rfc3986Section54NormalExamples) {
  EXPECT_EQ(norm("/b/c/g"), "/b/c/g");      // "g"
  EXPECT_EQ(norm("/b/c/./g"), "/b/c/g");    // "./g"
  EXPECT_EQ(norm("/b/c/g/"), "/b/c/g/");    // "g/"
  EXPECT_EQ(norm("/g"), "/g");              // "/g"
  EXPECT_EQ(norm("/b/c/;x"), "/b/c/;x");    // ";x"
  EXPECT_EQ(norm("/b/c/g;x"), "/b/c/g;x");  // "g;x"
  EXPECT_EQ(norm("/b/c/d;p"), "/b/c/d;p");  // ""
  EXPECT_EQ(norm("/b/c/."), "/b/c/");       // "."
  EXPECT_EQ(norm("/b/c/./"), "/b/c/");      // "./"
  EXPECT_EQ(norm("/b/c/.."), "/b/");        // ".."
  EXPECT_EQ(norm("/b/c/../"), "/b/");       // "../"
  EXPECT_EQ(norm("/b/c/../g"), "/b/g");     // "../g"
  EXPECT_EQ(norm("/b/c/../.."), "/");       // "../.."
  EXPECT_EQ(norm("/b/c/../../"), "/");      // "../../"
  EXPECT_EQ(norm("/b/c/../../g"), "/g");    // "../../g"
}

TEST(NormalizePath, Rfc3986Section54AbnormalExamples) {
  EXPECT_EQ(norm("/b/c/../../../g"), "/g");           // "../../../g"
  EXPECT_EQ(norm("/b/c/../../../../g"), "/g");        // "../../../../g"
  EXPECT_EQ(norm("/./g"), "/g");                      // "/./g"
  EXPECT_EQ(norm("/../g"), "/g");                     // "/../g"
  EXPECT_EQ(norm("/b/c/g."), "/b/c/g.");              // "g."
  EXPECT_EQ(norm("/b/c/.g"), "/b/c/.g");              // ".g"
  EXPECT_EQ(norm("/b/c/g.."), "/b/c/g..");            // "g.."
  EXPECT_EQ(norm("/b/c/..g"), "/b/c/..g");            // "..g"
  EXPECT_EQ(norm("/b/c/./../g"), "/b/g");             // "./../g"
  EXPECT_EQ(norm("/b/c/./g/."), "/b/c/g/");           // "./g/."
  EXPECT_EQ(norm("/b/c/g/./h"), "/b/c/g/h");          // "g/./h"
  EXPECT_EQ(norm("/b/c/g/../h"), "/b/c/h");           // "g/../h"
  EXPECT_EQ(norm("/b/c/g;x=1/./y"), "/b/c/g;x=1/y");  // "g;x=1/./y"
  EXPECT_EQ(norm("/b/c/g;x=1/../y"), "/b/c/y");       // "g;x=1/../y"
}

TEST(NormalizePath, EncodedDotsAreDotSegments) {
  EXPECT_EQ(norm("/%2e%2e/x"), "/x");
  EXPECT_EQ(norm("/a/%2E%2e/b"), "/b");
  EXPECT_EQ(norm("/a/.%2E/b"), "/b");
  EXPECT_EQ(norm("/a/%2e/b"), "/a/b");
  EXPECT_EQ(norm("/a/b/%2e%2e"), "/a/");
  EXPECT_EQ(norm("/users/v1/%2e%2e/%2e%2e/admin"), "/admin");
  EXPECT_EQ(norm("/a/%2e%2e%2e"), "/a/...");
}

TEST(NormalizePath, UnreservedEscapesAreDecoded) {
  EXPECT_EQ(norm("/%41"), "/A");
  EXPECT_EQ(norm("/%7E"), "/~");
  EXPECT_EQ(norm("/%7e"), "/~");
  EXPECT_EQ(norm("/%61%62%63"), "/abc");
  EXPECT_EQ(norm("/%30%39%2D%5F"), "/09-_");
  EXPECT_EQ(norm("/us%65rs/42"), "/users/42");
}

TEST(NormalizePath, OtherEscapesStayEncodedWithUpperCaseHex) {
  EXPECT_EQ(norm("/a%2Fb"), "/a%2Fb");
  EXPECT_EQ(norm("/a%2fb"), "/a%2Fb");
  EXPECT_EQ(norm("/%2f"), "/%2F");
  EXPECT_EQ(norm("/a%5Cb"), "/a%5Cb");
  EXPECT_EQ(norm("/a%5cb"), "/a%5Cb");
  EXPECT_EQ(norm("/%20"), "/%20");
  EXPECT_EQ(norm("/%00"), "/%00");
  EXPECT_EQ(norm("/%ff"), "/%FF");
  EXPECT_EQ(norm("/%3f%23%25"), "/%3F%23%25");
  // An encoded slash is not a separator: ".." still removes the whole "a%2Fb" segment.
  EXPECT_EQ(norm("/x/a%2Fb/../c"), "/x/c");
  EXPECT_EQ(norm("/%2e%2e%2fetc"), "/..%2Fetc");
  // Decoding happens once: "%252e" is "%25" followed by "2e", not ".".
  EXPECT_EQ(norm("/a/%252e%252e/b"), "/a/%252e%252e/b");
}

TEST(NormalizePath, MalformedEscapesAreRejected) {
  EXPECT_EQ(norm("/%"), std::nullopt);
  EXPECT_EQ(norm("/%4"), std::nullopt);
  EXPECT_EQ(norm("/%zz"), std::nullopt);
  EXPECT_EQ(norm("/%4g"), std::nullopt);
  EXPECT_EQ(norm("/%g4"), std::nullopt);
  EXPECT_EQ(norm("/a%"), std::nullopt);
  EXPECT_EQ(norm("/a%/b"), std::nullopt);
  EXPECT_EQ(norm("/a%2/b"), std::nullopt);
  EXPECT_EQ(norm("/%%41"), std::nullopt);
}

TEST(NormalizePath, NonOriginFormIsRejected) {
  EXPECT_EQ(norm(""), std::nullopt);
  EXPECT_EQ(norm("users"), std::nullopt);
  EXPECT_EQ(norm("*"), std::nullopt);
  EXPECT_EQ(norm("http://a/b"), std::nullopt);
  EXPECT_EQ(norm("%2Fa"), std::nullopt);
  EXPECT_EQ(norm("./a"), std::nullopt);
}

TEST(NormalizePath, ForbiddenBytesAreRejected) {
  EXPECT_EQ(norm("/a\0b"s), std::nullopt);
  EXPECT_EQ(norm("/\0"s), std::nullopt);
  EXPECT_EQ(norm("/a b"), std::nullopt);
  EXPECT_EQ(norm("/a\tb"), std::nullopt);
  EXPECT_EQ(norm("/a\r\nb"), std::nullopt);
  EXPECT_EQ(norm("/a\x1f"), std::nullopt);
  EXPECT_EQ(norm("/a\x7f"), std::nullopt);
  EXPECT_EQ(norm("/caf\xc3\xa9"), std::nullopt);
  EXPECT_EQ(norm("/\x80"), std::nullopt);
  EXPECT_EQ(norm("/\xff"), std::nullopt);
  for (const char c : std::string_view("#\"<>\\^`{|}[]?")) {
    EXPECT_EQ(norm(std::string("/a") + c + "b"), std::nullopt) << "byte '" << c << "'";
  }
  // A forbidden byte after a dot segment or at the very end still rejects.
  EXPECT_EQ(norm("/../a b"), std::nullopt);
  EXPECT_EQ(norm("/a/ "), std::nullopt);
}

TEST(NormalizePath, EveryAllowedByteIsAccepted) {
  const std::string_view allowed =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@";
  for (const char c : allowed) {
    const std::string p = std::string("/x") + c;
    EXPECT_EQ(norm(p), p) << "byte '" << c << "'";
  }
}

TEST(NormalizePath, EveryByteIsClassified) {
  // Exhaustive over single bytes: exactly the pchar set is accepted raw.
  const std::string_view allowed =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@"
      "/";
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool ok = allowed.find(c) != std::string_view::npos;
    EXPECT_EQ(norm(std::string("/x") + c).has_value(), ok) << "byte " << b;
  }
}

TEST(NormalizePath, ResultIsStable) {
  // Normalising a normalised path changes nothing (the proxy forwards what it routed).
  for (const char* p :
       {"/a/%2e%2e/b", "/a%2fb/./c/", "/%7e/x/..", "/a//b/../c", "/."}) {
    const auto once = norm(p);
    ASSERT_TRUE(once.has_value()) << p;
    EXPECT_EQ(norm(*once), once) << p;
  }
}

}  // namespace
}  // namespace gatehouse::router
