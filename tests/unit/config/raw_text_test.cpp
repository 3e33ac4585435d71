// SPEC sections 1 and 2: what is refused before YAML parsing (size, UTF-8, nesting),
// the likely cause of a syntax error, and how values are quoted in messages.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "config/prescan.hpp"
#include "config/utf8.hpp"
#include "test_util.hpp"

namespace gatehouse::config {
namespace {

using testing::has_error;
using testing::load;
using testing::only_error;
using testing::TempDir;

// Joins by appending ("literal" + std::string&& trips g++ 12's -Wrestrict).
std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto p : parts) out += p;
  return out;
}

std::string repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// --- quoting -----------------------------------------------------------------------

TEST(QuotedValues, SpecExample) {
  const LoadResult r = load(R"(
listen: 127.0.0.1:8080
endpoints:
  - url: ftp://127.0.0.1:9003
    name: files
)");
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  EXPECT_EQ(r.errors[0].to_string(),
            "endpoints[0].url (line 3, col 10): \"ftp://127.0.0.1:9003\": must be an http:// or "
            "https:// URL");
}

TEST(QuotedValues, CutAtSixtyCharactersThenEscaped) {
  const std::string long_value = repeat("abcdefghij", 10);  // 100 characters
  const LoadResult r = load("listen: " + long_value + "\n");
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  EXPECT_EQ(r.errors[0].message.substr(0, 67), cat({"\"", long_value.substr(0, 60), "\"...: "}));

  // Multi-byte characters count as one each and are never split.
  const std::string accents = repeat("\xc3\xa9", 70);  // 70 x U+00E9
  const LoadResult u = load("listen: " + accents + "\n");
  ASSERT_EQ(u.errors.size(), 1u) << testing::dump(u);
  EXPECT_EQ(u.errors[0].message.substr(0, 127), cat({"\"", accents.substr(0, 120), "\"...: "}));
}

TEST(QuotedValues, ControlCharactersQuotesAndBackslashesAreEscaped) {
  // YAML escapes put a tab, a 0x01 byte, a quote and a backslash into the value.
  const LoadResult r = load("listen: \"a\\tb\\x01c\\\"d\\\\e\\nf\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  const std::string& m = r.errors[0].message;
  EXPECT_EQ(m.substr(0, m.find(": ")), R"("a\tb\u0001c\"d\\e\nf")") << m;
  EXPECT_EQ(m.find('\t'), std::string::npos);
  EXPECT_EQ(m.find('\x01'), std::string::npos);
}

TEST(QuotedValues, OnlyForValueErrors) {
  // A missing key or an unknown one has no value to quote.
  const LoadResult r = load("endpoints:\n  - name: a\n    prefx: /a\n");
  EXPECT_TRUE(has_error(r, "endpoints[0].url", 2, 5, "is required"));
  EXPECT_TRUE(has_error(r, "endpoints[0].prefx", 3, 5, "unknown key; did you mean \"prefix\"?"));
  for (const auto& e : r.errors) EXPECT_NE(e.message.front(), '"') << e.to_string();
}

TEST(QuotedValues, OddKeysAreQuotedInThePath) {
  const LoadResult r = load("\"a\\nb\": 1\n");
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  EXPECT_EQ(r.errors[0].path, "\"a\\nb\"");
}

TEST(QuotedValues, QuotedHelperEscapesBytesThatAreNotUtf8) {
  EXPECT_EQ(detail::quoted("a\xff" "b"), "\"a\\xffb\"");
  EXPECT_EQ(detail::quoted(""), "\"\"");
  EXPECT_EQ(detail::quoted(std::string(60, 'x')), cat({"\"", std::string(60, 'x'), "\""}));
  EXPECT_EQ(detail::quoted(std::string(61, 'x')), cat({"\"", std::string(60, 'x'), "\"..."}));
}

// --- UTF-8 -------------------------------------------------------------------------

TEST(Utf8, FirstInvalidOffsetIsWhereTheBadSequenceStarts) {
  EXPECT_EQ(first_invalid_utf8("plain ascii"), std::nullopt);
  EXPECT_EQ(first_invalid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), std::nullopt);
  EXPECT_EQ(first_invalid_utf8("ab\xff"), 2u);
  EXPECT_EQ(first_invalid_utf8("\x80"), 0u);              // stray continuation byte
  EXPECT_EQ(first_invalid_utf8("a\xc0\xafz"), 1u);        // overlong '/'
  EXPECT_EQ(first_invalid_utf8("ab\xe0\x80\x80"), 2u);    // overlong
  EXPECT_EQ(first_invalid_utf8("x\xed\xa0\x80"), 1u);     // surrogate U+D800
  EXPECT_EQ(first_invalid_utf8("\xf4\x90\x80\x80"), 0u);  // over U+10FFFF
  EXPECT_EQ(first_invalid_utf8("abc\xe2\x82"), 3u);       // cut short at the end
  EXPECT_EQ(first_invalid_utf8("\xc3\xa9\xc3("), 2u);     // lead byte without continuation
}

TEST(Utf8, FileThatIsNotUtf8IsRefusedWithTheOffset) {
  const LoadResult r = load("listen: 127.0.0.1:8080\n# comment \xfe\xff\nthreads: x\n");
  EXPECT_TRUE(only_error(r, "", 2, 11, "not UTF-8"));
  EXPECT_NE(r.errors[0].message.find("0xFE at offset 33 (counted from 0)"), std::string::npos)
      << r.errors[0].message;
}

TEST(Utf8, EscapeInvalidBytes) {
  EXPECT_EQ(escape_invalid_utf8("ok \xc3\xa9"), "ok \xc3\xa9");
  EXPECT_EQ(escape_invalid_utf8("a\xff\xc3"), "a\\xFF\\xC3");
}

// --- size --------------------------------------------------------------------------

TEST(Size, OverSixtyFourMibIsRefusedWithoutReadingIt) {
  TempDir dir;
  const std::string file = dir.write("big.yaml", "");
  // A sparse file: 64 MiB + 1 bytes that take no disk space and would take 64 MiB of
  // memory if read.
  ASSERT_EQ(::truncate(file.c_str(), detail::kMaxConfigBytes + 1), 0);
  const LoadResult r = load_from_file(file);
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  EXPECT_NE(r.errors[0].message.find("67108865 bytes, over the limit of 64 MiB"),
            std::string::npos)
      << r.errors[0].message;
}

TEST(Size, TextOverTheLimitIsRefused) {
  const std::string text(detail::kMaxConfigBytes + 1, '#');
  const LoadResult r = load_from_string(text, "big.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  EXPECT_NE(r.errors[0].message.find("over the limit of 64 MiB"), std::string::npos);
}

TEST(Size, AFileThatIsNotRegularIsReadUpToTheLimitOnly) {
  // /dev/zero has no size to check first: reading stops after the limit.
  const LoadResult r = load_from_file("/dev/zero");
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  EXPECT_NE(r.errors[0].message.find("over the limit of 64 MiB"), std::string::npos)
      << r.errors[0].message;
}

// --- nesting -----------------------------------------------------------------------

std::string flow(int depth) { return repeat("[", depth) + repeat("]", depth); }

std::string block(int depth) {  // depth nested mappings, one key each
  std::string out;
  for (int i = 0; i < depth; ++i) out += std::string(2 * i, ' ') + "k:\n";
  return out;
}

bool too_deep(const LoadResult& r) {
  for (const auto& e : r.errors) {
    if (e.message.find("nested deeper than 64 levels") != std::string::npos) return true;
  }
  return false;
}

TEST(Nesting, SixtyFourLevelsPassSixtyFiveAreRefused) {
  // `x: ` is one mapping, the brackets the rest.
  EXPECT_FALSE(too_deep(load(cat({"x: ", flow(63), "\n"}))));
  const LoadResult r = load(cat({"x: ", flow(64), "\n"}));
  EXPECT_TRUE(only_error(r, "", 1, 67, "nested deeper than 64 levels")) << testing::dump(r);

  EXPECT_FALSE(too_deep(load(block(64))));
  EXPECT_TRUE(too_deep(load(block(65))));
}

TEST(Nesting, FarTooDeepIsRefusedWithoutACrash) {
  EXPECT_TRUE(too_deep(load(cat({"listen: ", flow(200000), "\n"}))));
  EXPECT_TRUE(too_deep(load(repeat("- ", 100000) + "x\n")));
  EXPECT_TRUE(too_deep(load(repeat("{a: ", 100000) + "\n")));  // never closed
  EXPECT_TRUE(too_deep(load(repeat("[a: ", 40) + "\n")));  // implicit pairs are mappings
}

// The tree's real depth, to check the scan against yaml-cpp's reading of the same text.
int tree_depth(const YAML::Node& n) {
  if (!n.IsMap() && !n.IsSequence()) return 0;
  int deepest = 0;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (n.IsMap()) {
      deepest = std::max(deepest, tree_depth(it->second));
    } else {
      deepest = std::max(deepest, tree_depth(*it));
    }
  }
  return deepest + 1;
}

TEST(Nesting, ScanAgreesWithTheParser) {
  const char* docs[] = {
      "a: 1\n",
      "a:\n  b:\n    c: 1\n",
      "a:\n- 1\n- 2\nb: 3\n",                  // an indentless sequence is one level
      "a:\n- b:\n  - c:\n    - d\n",
      "- - - x\n",
      "- a: 1\n  b: [1, {c: [2]}]\n",
      "a: \"[[[[\"\nb: '{{{'\n",               // brackets inside quotes
      "a: |\n  - - - - x\n  [[[[\nb: 1\n",     // and inside a block scalar
      "a: x # [[[[ comment\n",
      "a: [b: [c: 1]]\n",                      // implicit pairs in flow sequences
      "a: {\"k\": [1, 2], 'j': {x: y}}\n",
      "a: [1,\n  [2,\n   [3]]]\nb: 1\n",       // a flow collection over several lines
      "? a\n: - 1\n",
      "a: &x [1]\nb: *x\n",
      "--- \n- 1\n",
      "url: http://h:80/a\nlist: [http://x:1, 'y: z']\n",
  };
  for (const char* doc : docs) {
    const auto scan = detail::prescan_yaml(doc);
    EXPECT_EQ(scan.depth, tree_depth(YAML::Load(doc))) << doc;
    EXPECT_EQ(scan.too_deep.line, 0) << doc;
  }
}

// --- likely causes of syntax errors -------------------------------------------------

TEST(SyntaxCause, TabUsedForIndentation) {
  const LoadResult r = load("endpoints:\n  - url: http://h\n\tname: a\n");
  EXPECT_TRUE(only_error(r, "", 3, 1, "a tab is used for indentation")) << testing::dump(r);
  const LoadResult s = load("endpoints:\n\t- url: http://h\n");
  EXPECT_TRUE(only_error(s, "", 2, 1, "a tab is used for indentation")) << testing::dump(s);
}

TEST(SyntaxCause, UnclosedQuoteSwallowingTheRestOfTheFile) {
  const LoadResult r = load(R"(
listen: 127.0.0.1:8080
endpoints:
  - url: "http://127.0.0.1:9001
    name: a
  - url: http://127.0.0.1:9002
    name: b
)");
  EXPECT_TRUE(only_error(r, "", 3, 10, "the double quote opened here is never closed"))
      << testing::dump(r);
  EXPECT_TRUE(only_error(load("listen: '127.0.0.1:8080\nthreads: 2\n"), "", 1, 9,
                         "the single quote opened here is never closed"));
}

TEST(SyntaxCause, QuoteClosedLinesTooLate) {
  // The quote on line 2 is closed by the one meant to open line 5's value.
  const LoadResult r = load("log:\n  level: \"debug\n  format: text\n\nlisten: \"x:1\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "", 2, 10, "the double quote opened here is not closed on its line"));
  EXPECT_NE(r.errors[0].message.find("the parser stopped at line 5"), std::string::npos);
}

TEST(SyntaxCause, ValidYamlWithASwallowingQuoteGetsANote) {
  const LoadResult r = load("endpoints:\n  - url: http://h\n    name: \"x\n  - url: http://g\"\n");
  EXPECT_TRUE(has_error(r, "", 3, 11, "is its closing quote missing?")) << testing::dump(r);
  // A deliberate multi-line string in a valid file is left alone.
  EXPECT_TRUE(testing::ok(load("endpoints:\n  - url: http://h\n    name: a\n    fallback:\n"
                               "      body: \"one\n        two\"\n")));
}

TEST(SyntaxCause, OtherSyntaxErrorsKeepTheParsersMessage) {
  const LoadResult r = load("a: [1, 2\nb: 3\n");
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  EXPECT_EQ(r.errors[0].message.rfind("invalid YAML: ", 0), 0u) << r.errors[0].message;
  EXPECT_EQ(r.errors[0].message.find("tab"), std::string::npos);
}

// --- the half_open_requests bound (the breaker's trial counter is 15 bits) ----------

TEST(Bounds, HalfOpenRequests) {
  const auto with = [](const std::string& n) {
    return load("endpoints:\n  - url: http://h\n    name: a\n    circuit_breaker:\n"
                "      half_open_requests: " + n + "\n");
  };
  ASSERT_TRUE(testing::ok(with("32767")));
  EXPECT_EQ(with("32767").config->endpoints[0].circuit_breaker->half_open_requests, 32767u);
  EXPECT_TRUE(only_error(with("32768"), "endpoints[0].circuit_breaker.half_open_requests", 5, 27,
                         "\"32768\": must be an integer from 1 to 32767"));
  EXPECT_TRUE(only_error(with("4294967296"), "endpoints[0].circuit_breaker.half_open_requests", 5,
                         27, "must be an integer from 1 to 32767"));
}

}  // namespace
}  // namespace gatehouse::config
