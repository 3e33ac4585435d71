// The file as a whole: YAML syntax, root shape, duplicate and unknown keys, node types,
// several errors at once, error formatting.
#include <gtest/gtest.h>

#include "config/did_you_mean.hpp"
#include "test_util.hpp"

namespace gatehouse::config {
namespace {

using testing::fixtures;
using testing::has_error;
using testing::load;
using testing::ok;
using testing::only_error;

TEST(Structure, SyntaxErrorGivesOneErrorWithPosition) {
  const LoadResult r = load_from_file(fixtures() + "/config/syntax_error.yaml");
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors[0].path, "");
  EXPECT_EQ(r.errors[0].line, 5);
  EXPECT_GT(r.errors[0].column, 0);
  EXPECT_NE(r.errors[0].message.find("invalid YAML"), std::string::npos);
}

TEST(Structure, EmptyFileIsOneClearError) {
  const LoadResult r = load("");
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  EXPECT_NE(r.errors[0].message.find("must be a YAML mapping"), std::string::npos);
  EXPECT_NE(r.errors[0].message.find("empty"), std::string::npos);
}

TEST(Structure, ScalarOrSequenceRootIsOneClearError) {
  EXPECT_TRUE(only_error(load("hello"), "", 1, 1, "must be a YAML mapping of settings"));
  EXPECT_TRUE(only_error(load("- listen: 1.2.3.4:80"), "", 1, 1, "got a sequence"));
}

TEST(Structure, MoreThanOneDocumentIsAnError) {
  const LoadResult r = load("listen: 127.0.0.1:80\n---\nlisten: 127.0.0.1:81\n");
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  EXPECT_EQ(r.errors[0].line, 3);
  EXPECT_NE(r.errors[0].message.find("more than one YAML document"), std::string::npos);
}

TEST(Structure, DuplicateKeysAtEveryLevel) {
  const LoadResult r = load_from_file(fixtures() + "/config/duplicate_keys.yaml");
  EXPECT_FALSE(r.config);
  ASSERT_EQ(r.errors.size(), 3u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "log.level", 4, 3, "duplicate key (first at line 3, col 3)"));
  EXPECT_TRUE(has_error(r, "endpoints[0].url", 8, 5, "duplicate key (first at line 6, col 5)"));
  EXPECT_TRUE(has_error(r, "listen", 9, 1, "duplicate key (first at line 1, col 1)"));
}

TEST(Structure, DuplicateKeyInFlowMapping) {
  EXPECT_TRUE(only_error(load(R"Y(
limits: {max_headers: 10, max_headers: 20}
)Y"),
                         "limits.max_headers", 1, 27, "duplicate key"));
}

TEST(Structure, UnknownKeysWithDidYouMean) {
  const LoadResult r = load(R"Y(
listn: 127.0.0.1:8080
limits:
  max_bdy: 1MiB
endpoints:
  - url: http://127.0.0.1:9001
    name: users
    prefx: /users
)Y");
  ASSERT_EQ(r.errors.size(), 3u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "listn", 1, 1, "unknown key; did you mean \"listen\"?"));
  EXPECT_TRUE(has_error(r, "limits.max_bdy", 3, 3, "unknown key; did you mean \"max_body\"?"));
  EXPECT_TRUE(has_error(r, "endpoints[0].prefx", 7, 5, "unknown key; did you mean \"prefix\"?"));
  EXPECT_EQ(r.errors[2].to_string(),
            "endpoints[0].prefx (line 7, col 5): unknown key; did you mean \"prefix\"?");
}

TEST(Structure, UnknownKeyWithoutCloseMatchListsTheAllowedKeys) {
  EXPECT_TRUE(only_error(load("log:\n  colour: red\n"), "log.colour", 2, 3,
                         "unknown key; expected one of: level, format, access_log"));
}

TEST(Structure, CaseOnlyDifferenceIsSuggested) {
  EXPECT_TRUE(only_error(load("Listen: 127.0.0.1:80\n"), "Listen", 1, 1,
                         "did you mean \"listen\"?"));
}

TEST(Structure, WrongNodeTypes) {
  const LoadResult r = load(R"Y(
log: [info]
limits: 5
auth:
  jwt: true
defaults:
  health_check: [a]
)Y");
  ASSERT_EQ(r.errors.size(), 4u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "log", 1, 6, "must be a mapping, got a sequence"));
  EXPECT_TRUE(has_error(r, "limits", 2, 9, "must be a mapping, got a scalar"));
  EXPECT_TRUE(has_error(r, "auth.jwt", 4, 8, "must be a mapping"));
  EXPECT_TRUE(has_error(r, "defaults.health_check", 6, 17, "must be a mapping"));
}

TEST(Structure, EndpointsMustBeASequenceOfMappings) {
  EXPECT_TRUE(only_error(load("endpoints:\n  url: http://h\n"), "endpoints", 2, 3,
                         "must be a sequence, got a mapping"));
  EXPECT_TRUE(only_error(load("endpoints:\n  - http://h\n"), "endpoints[0]", 2, 5,
                         "must be a mapping, got a scalar"));
}

TEST(Structure, StringWhereAListIsExpected) {
  EXPECT_TRUE(only_error(load(R"Y(
endpoints:
  - url: http://h
    name: a
    methods: GET
)Y"),
                         "endpoints[0].methods", 4, 14, "must be a sequence"));
}

TEST(Structure, EmptyValueIsReportedAtItsKey) {
  EXPECT_TRUE(only_error(load("listen:\nthreads: 2\n"), "listen", 1, 1, "must be a string"));
}

TEST(Structure, NonScalarKey) {
  const LoadResult r = load("? [a, b]\n: 1\n");
  ASSERT_EQ(r.errors.size(), 1u) << testing::dump(r);
  EXPECT_NE(r.errors[0].message.find("keys must be strings"), std::string::npos);
}

TEST(Structure, EndpointsMayBeEmptyOrAbsent) {
  EXPECT_TRUE(ok(load("listen: 127.0.0.1:80\nendpoints: []\n")));
  EXPECT_TRUE(ok(load("listen: 127.0.0.1:80\nendpoints:\n")));
  EXPECT_TRUE(ok(load("listen: 127.0.0.1:80\n")));
}

TEST(Structure, ManyErrorsAreAllReportedInFileOrder) {
  const LoadResult r = load_from_file(fixtures() + "/config/many_errors.yaml");
  EXPECT_FALSE(r.config);
  std::vector<std::string> lines;
  for (const auto& e : r.errors) lines.push_back(e.to_string());
  const std::vector<std::string> expected = {
      "listen (line 1, col 9): \"127.0.0.1:70000\": port must be from 1 to 65535",
      "threads (line 2, col 10): \"-1\": must be an integer from 0 to 1024",
      "watch (line 3, col 8): \"yes\": must be true or false",
      "log.level (line 5, col 10): \"verbose\": must be one of debug, info, warning, error",
      "limits.max_body (line 7, col 13): \"10MB\": must be a size in bytes, or with a unit: B, "
      "KiB, MiB or GiB (e.g. \"16KiB\")",
      "endpoints[0].url (line 9, col 5): is required",
      "endpoints[0].prefx (line 10, col 5): unknown key; did you mean \"prefix\"?",
      "endpoints[1].url (line 11, col 10): \"ftp://files.example.com\": must be an http:// or "
      "https:// URL",
      "endpoints[2].name (line 14, col 11): duplicate endpoint id \"users\" (first at line 9)",
  };
  EXPECT_EQ(lines, expected);
}

TEST(Structure, UnreadableFileIsOneErrorWithoutKeyPath) {
  const std::string missing = fixtures() + "/config/does-not-exist.yaml";
  const LoadResult r = load_from_file(missing);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_FALSE(r.config);
  EXPECT_EQ(r.errors[0].path, "");
  EXPECT_EQ(r.errors[0].line, 0);
  EXPECT_EQ(r.errors[0].to_string(),
            "cannot read " + missing + ": No such file or directory");
}

TEST(Structure, DirectoryIsUnreadable) {
  const LoadResult r = load_from_file(fixtures() + "/config");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].message.find("is a directory"), std::string::npos);
}

TEST(Structure, DeepNestingIsAnErrorNotACrash) {
  const std::string deep = "listen: " + std::string(5000, '[') + std::string(5000, ']') + "\n";
  const LoadResult r = load(deep);
  EXPECT_TRUE(only_error(r, "", 1, 72, "nested deeper than 64 levels"));  // 1 + 64 levels
}

TEST(ConfigErrorFormat, AllShapes) {
  EXPECT_EQ((ConfigError{"endpoints[2].url", 14, 10, "must be an http:// or https:// URL"})
                .to_string(),
            "endpoints[2].url (line 14, col 10): must be an http:// or https:// URL");
  EXPECT_EQ((ConfigError{"tls", 0, 0, "bad"}).to_string(), "tls: bad");
  EXPECT_EQ((ConfigError{"", 3, 7, "invalid YAML: x"}).to_string(), "line 3, col 7: invalid YAML: x");
  EXPECT_EQ((ConfigError{"", 0, 0, "cannot read a.yaml: gone"}).to_string(),
            "cannot read a.yaml: gone");
}

TEST(DidYouMean, Suggestions) {
  using detail::suggest;
  const std::vector<std::string_view> keys = {"prefix", "url", "name", "timeout", "max_body"};
  EXPECT_EQ(suggest("prefx", keys), "prefix");
  EXPECT_EQ(suggest("perfix", keys), "prefix");  // transposition
  EXPECT_EQ(suggest("URL", keys), "url");        // case only
  EXPECT_EQ(suggest("ur", keys), "url");
  EXPECT_EQ(suggest("timeuot", keys), "timeout");
  EXPECT_EQ(suggest("xyz", keys), "");
  EXPECT_EQ(suggest("nm", keys), "");  // short words allow one edit only
  EXPECT_EQ(suggest("completely_different", keys), "");
  EXPECT_EQ(detail::edit_distance("kitten", "sitting"), 3u);
}

}  // namespace
}  // namespace gatehouse::config
