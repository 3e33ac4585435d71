// Route prefixes: syntax, defaults, conflicts between enabled endpoints, reserved paths.
#include <gtest/gtest.h>

#include "test_util.hpp"

namespace gatehouse::config {
namespace {

using testing::has_error;
using testing::load;
using testing::ok;
using testing::only_error;

LoadResult with_prefix(const std::string& prefix) {
  return load("endpoints:\n  - url: http://h\n    prefix: \"" + prefix + "\"\n");
}

TEST(Prefix, AcceptedAndNormalised) {
  struct Case {
    const char* written;
    const char* stored;
  };
  for (const Case& c : {Case{"/", "/"}, Case{"/users", "/users"}, Case{"/a/b-c_d.e~f", "/a/b-c_d.e~f"},
                        Case{"/v1:list", "/v1:list"}, Case{"/a%2fb", "/a%2Fb"},
                        Case{"/%7Eme/%41", "/~me/A"}, Case{"/.well-known", "/.well-known"}}) {
    const LoadResult r = with_prefix(c.written);
    ASSERT_TRUE(ok(r)) << c.written;
    EXPECT_EQ(r.config->endpoints[0].prefix, c.stored);
    EXPECT_TRUE(r.config->endpoints[0].prefix_explicit);
  }
}

TEST(Prefix, Rejected) {
  struct Case {
    const char* prefix;
    const char* fragment;
  };
  for (const Case& c : {Case{"users", "must start with '/'"}, Case{"", "must not be empty"},
                        Case{"/users/", "must not end with '/'"},
                        Case{"/a?b", "must not contain '?', '#'"},
                        Case{"/a#b", "must not contain '?', '#'"},
                        Case{"/a b", "whitespace"},
                        Case{"/a/../b", "\"..\" segments"}, Case{"/a/./b", "segments"},
                        Case{"/..", "segments"}, Case{"/%2e%2e/x", "segments"},
                        Case{"/a//b", "empty segment"}, Case{"/a%zz", "malformed percent-escape"},
                        Case{"/a%2", "malformed percent-escape"}, Case{"/a\\\\b", "'\\'"},
                        Case{"/a<b>", "'<'"}}) {
    EXPECT_TRUE(only_error(with_prefix(c.prefix), "endpoints[0].prefix", 3, 13, c.fragment))
        << c.prefix;
  }
}

TEST(Prefix, DefaultPrefixThatIsNotAValidPath) {
  EXPECT_TRUE(only_error(load("endpoints:\n  - {url: http://h, name: \"..\"}\n"),
                         "endpoints[0].name", 2, 27,
                         "gives the default prefix \"/..\", which must not contain"));
  EXPECT_TRUE(only_error(load("endpoints:\n  - {url: http://h, name: a, version: \"v?\"}\n"),
                         "endpoints[0].version", 2, 39, "default prefix \"/a/v?\""));
}

TEST(PrefixConflicts, TwoEnabledEndpointsMayNotShareAPrefix) {
  const LoadResult r = load(R"Y(
endpoints:
  - {url: http://h1, name: users}
  - {url: http://h2, name: people, prefix: /users}
)Y");
  EXPECT_TRUE(only_error(r, "endpoints[1].prefix", 3, 44,
                         "prefix \"/users\" is already used by endpoint \"users\" (line 2)"));
}

TEST(PrefixConflicts, ComparedAfterNormalisation) {
  const LoadResult r = load(R"Y(
endpoints:
  - {url: http://h1, prefix: /aA}
  - {url: http://h2, prefix: /a%41}
)Y");
  EXPECT_TRUE(only_error(r, "endpoints[1].prefix", 3, 30, "already used by endpoint"));
}

TEST(PrefixConflicts, DefaultPrefixBlamesNameOrVersion) {
  const LoadResult r = load(R"Y(
endpoints:
  - {url: http://h1, name: legacy, prefix: /users/v1}
  - {url: http://h2, name: users, version: v1}
)Y");
  EXPECT_TRUE(only_error(r, "endpoints[1].version", 3, 44, "\"/users/v1\" is already used"));
}

TEST(PrefixConflicts, DisabledEndpointsDoNotConflict) {
  const LoadResult r = load(R"Y(
endpoints:
  - {url: http://h1, name: users}
  - {url: http://h2, name: users-next, prefix: /users, disabled: true}
  - {url: http://h3, name: users-old, prefix: /users, disabled: true}
)Y");
  EXPECT_TRUE(ok(r));
}

TEST(PrefixConflicts, NestedPrefixesAreFine) {
  EXPECT_TRUE(ok(load(R"Y(
endpoints:
  - {url: http://h1, prefix: /}
  - {url: http://h2, name: users}
  - {url: http://h3, name: users2, prefix: /users/admin}
)Y")));
}

TEST(ReservedPaths, EqualOrUnderIsRejectedWholeSegmentsOnly) {
  for (const char* bad : {"/endpoints", "/metrics", "/healthz", "/readyz", "/dashboard",
                          "/metrics/x", "/endpoints/stats"}) {
    EXPECT_TRUE(only_error(with_prefix(bad), "endpoints[0].prefix", 3, 13,
                           "takes the reserved gateway path"))
        << bad;
  }
  for (const char* fine : {"/metricsx", "/healthzz", "/api/metrics", "/Metrics"}) {
    EXPECT_TRUE(ok(with_prefix(fine))) << fine;
  }
}

TEST(ReservedPaths, DefaultPrefixAndDisabledEndpointsToo) {
  const LoadResult r = load(R"Y(
endpoints:
  - {url: http://h1, name: metrics}
  - {url: http://h2, name: dashboard, version: v1, disabled: true}
)Y");
  ASSERT_EQ(r.errors.size(), 2u) << testing::dump(r);
  EXPECT_TRUE(has_error(r, "endpoints[0].name", 2, 28,
                        "default prefix \"/metrics\" takes the reserved gateway path /metrics"));
  EXPECT_TRUE(has_error(r, "endpoints[1].version", 3, 48,
                        "default prefix \"/dashboard/v1\" takes the reserved gateway path "
                        "/dashboard"));
}

TEST(ReservedPaths, VersionedNameRoutesTheBarePathEvenWithAnExplicitPrefix) {
  EXPECT_TRUE(only_error(
      load("endpoints:\n  - {url: http://h, name: metrics, version: v1, prefix: /m/v1}\n"),
      "endpoints[0].name", 2, 27, "the name also routes \"/metrics\""));
  // Without a version there is no bare route, so only the prefix counts.
  EXPECT_TRUE(ok(
      load("endpoints:\n  - {url: http://h, name: metrics, prefix: /m}\n")));
}

}  // namespace
}  // namespace gatehouse::config
