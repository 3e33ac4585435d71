// listen, threads, shutdown_grace, watch, tls, log, limits and value strictness.
#include <gtest/gtest.h>

#include "test_util.hpp"

namespace gatehouse::config {
namespace {

using namespace std::chrono_literals;
using testing::key_fixture;
using testing::load;
using testing::ok;
using testing::only_error;

LoadResult with_listen(const std::string& value) { return load("listen: " + value + "\n"); }

TEST(Listen, AcceptedForms) {
  struct Case {
    const char* text;
    const char* host;
    int port;
  };
  for (const Case& c : {Case{"0.0.0.0:8080", "0.0.0.0", 8080}, Case{"\"[::]:8080\"", "::", 8080},
                        Case{"\"[::1]:1\"", "::1", 1}, Case{"localhost:65535", "localhost", 65535},
                        Case{"gw-1.example.com:443", "gw-1.example.com", 443}}) {
    const LoadResult r = with_listen(c.text);
    ASSERT_TRUE(ok(r)) << c.text;
    EXPECT_EQ(r.config->listen_host, c.host);
    EXPECT_EQ(r.config->listen_port, c.port);
  }
}

TEST(Listen, RejectedForms) {
  struct Case {
    const char* text;
    const char* fragment;
  };
  for (const Case& c : {Case{"8080", "must be host:port"},
                        Case{"\"::1:8080\"", "IPv6 address must be written in brackets"},
                        Case{"\":8080\"", "must name a host"},
                        Case{"1.2.3:80", "invalid IPv4 address"},
                        Case{"\"[::1]8080\"", "must be host:port"},
                        Case{"\"[zz]:80\"", "invalid IPv6 address"},
                        Case{"\"[::1:80\"", "unclosed '['"},
                        Case{"host:0", "port must be from 1 to 65535"},
                        Case{"host:65536", "port must be from 1 to 65535"},
                        Case{"host:http", "port must be from 1 to 65535"},
                        Case{"\"host:\"", "port must be from 1 to 65535"},
                        Case{"ho_st:80", "invalid host"}}) {
    EXPECT_TRUE(only_error(with_listen(c.text), "listen", 1, 9, c.fragment)) << c.text;
  }
}

TEST(Threads, ZeroMeansPerCoreAndLimitsApply) {
  EXPECT_EQ(load("threads: 0\n").config->threads, 0u);
  EXPECT_EQ(load("threads: 16\n").config->threads, 16u);
  EXPECT_TRUE(only_error(load("threads: -1\n"), "threads", 1, 10, "integer from 0 to 1024"));
  EXPECT_TRUE(only_error(load("threads: 2.5\n"), "threads", 1, 10, "integer"));
  EXPECT_TRUE(only_error(load("threads: 1025\n"), "threads", 1, 10, "integer from 0 to 1024"));
  EXPECT_TRUE(only_error(load("threads: \"4\"\n"), "threads", 1, 10, "not a quoted string"));
}

TEST(Booleans, OnlyTrueOrFalse) {
  EXPECT_TRUE(load("watch: true\n").config->watch);
  EXPECT_FALSE(load("watch: false\n").config->watch);
  for (const char* bad : {"yes", "no", "on", "1", "True", "FALSE", "\"true\"", "[true]"}) {
    EXPECT_TRUE(only_error(load(std::string("watch: ") + bad + "\n"), "watch", 1, 8,
                           "must be true or false"))
        << bad;
  }
}

TEST(Durations, ShutdownGraceMayBeZeroOthersMustBePositive) {
  EXPECT_EQ(load("shutdown_grace: 0s\n").config->shutdown_grace, 0ms);
  EXPECT_EQ(load("shutdown_grace: 1m\n").config->shutdown_grace, 60s);
  EXPECT_TRUE(only_error(load("limits:\n  idle_timeout: 0s\n"), "limits.idle_timeout", 2, 17,
                         "must be greater than 0"));
  EXPECT_TRUE(only_error(load("defaults:\n  timeout: 0ms\n"), "defaults.timeout", 2, 12,
                         "must be greater than 0"));
}

TEST(Durations, NeedAUnit) {
  EXPECT_TRUE(only_error(load("shutdown_grace: 15\n"), "shutdown_grace", 1, 17,
                         "must be a duration with a unit"));
  EXPECT_TRUE(only_error(load("limits:\n  header_timeout: 1.5s\n"), "limits.header_timeout", 2,
                         19, "must be a duration"));
  EXPECT_TRUE(only_error(load("defaults:\n  connect_timeout: -1s\n"),
                         "defaults.connect_timeout", 2, 20, "must be a duration"));
}

TEST(Sizes, BytesOrBinaryUnitsAndPositive) {
  const LoadResult r = load("limits:\n  max_body: 1024\n  max_request_line: 1KiB\n");
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(r.config->limits.max_body, 1024u);
  EXPECT_EQ(r.config->limits.max_request_line, 1024u);
  EXPECT_TRUE(only_error(load("limits:\n  max_body: 0\n"), "limits.max_body", 2, 13,
                         "must be greater than 0"));
  EXPECT_TRUE(only_error(load("limits:\n  max_header_bytes: 1KB\n"), "limits.max_header_bytes",
                         2, 21, "must be a size"));
}

TEST(Limits, CountsArePositiveIntegers) {
  EXPECT_TRUE(only_error(load("limits:\n  max_headers: 0\n"), "limits.max_headers", 2, 16,
                         "must be a positive integer"));
  EXPECT_TRUE(only_error(load("limits:\n  max_connections: 10k\n"), "limits.max_connections",
                         2, 20, "must be a positive integer"));
}

TEST(Log, LevelsAndFormats) {
  const LoadResult r = load("log:\n  level: debug\n  format: text\n  access_log: true\n");
  ASSERT_TRUE(ok(r));
  EXPECT_EQ(r.config->log.level, "debug");
  EXPECT_TRUE(only_error(load("log:\n  level: warn\n"), "log.level", 2, 10,
                         "must be one of debug, info, warning, error"));
  EXPECT_TRUE(only_error(load("log:\n  format: xml\n"), "log.format", 2, 11,
                         "must be one of text, json"));
}

TEST(TopLevelTls, FilesAreRequiredAndMustBeReadable) {
  const LoadResult r = load("tls:\n  cert_file: ../keys/missing.crt\n");
  ASSERT_EQ(r.errors.size(), 2u) << testing::dump(r);
  EXPECT_TRUE(testing::has_error(r, "tls.key_file", 2, 3, "is required"));
  EXPECT_TRUE(testing::has_error(r, "tls.cert_file", 2, 14, "cannot read"));
  EXPECT_TRUE(testing::has_error(r, "tls.cert_file", 2, 14, "missing.crt"));
}

TEST(TopLevelTls, FixturePairLoads) {
  const LoadResult r = load("tls:\n  cert_file: ../keys/tls.crt\n  key_file: ../keys/tls.key\n");
  ASSERT_TRUE(r.config) << testing::dump(r);
  ASSERT_TRUE(r.config->tls);
  ASSERT_EQ(r.config->tls->certificates.size(), 1u);
  EXPECT_NE(r.config->tls->certificates[0].cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_FALSE(r.config->tls->tls13_only);
}

}  // namespace
}  // namespace gatehouse::config
