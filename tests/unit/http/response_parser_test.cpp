#include <gtest/gtest.h>

#include "http/message.hpp"

using namespace gatehouse::http;

namespace {
ParseStatus parse(std::string_view raw, ResponseHead& out, bool head_request = false) {
  return parse_response(raw, 64 * 1024, head_request, out);
}
}  // namespace

TEST(ResponseParser, ContentLength) {
  ResponseHead r;
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", r), ParseStatus::done);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, BodyKind::length);
  EXPECT_EQ(r.content_length, 3u);
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_TRUE(r.keep_alive);
}

TEST(ResponseParser, ChunkedAndCloseDelimited) {
  ResponseHead r;
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", r), ParseStatus::done);
  EXPECT_EQ(r.body, BodyKind::chunked);
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nX: y\r\n\r\n", r), ParseStatus::done);
  EXPECT_EQ(r.body, BodyKind::until_close);
  EXPECT_FALSE(r.keep_alive);
}

TEST(ResponseParser, NoBodyCases) {
  ResponseHead r;
  ASSERT_EQ(parse("HTTP/1.1 204 No Content\r\n\r\n", r), ParseStatus::done);
  EXPECT_EQ(r.body, BodyKind::none);
  ASSERT_EQ(parse("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", r), ParseStatus::done);
  EXPECT_EQ(r.body, BodyKind::none);
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", r, true), ParseStatus::done);
  EXPECT_EQ(r.body, BodyKind::none);
}

TEST(ResponseParser, GarbageIsRefusedEarly) {
  ResponseHead r;
  EXPECT_EQ(parse("garbage\r\n", r), ParseStatus::error);
  EXPECT_EQ(parse("HTTP/1.1 2x0 OK\r\n\r\n", r), ParseStatus::error);
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", r), ParseStatus::error);
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", r),
            ParseStatus::error);
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", r),
            ParseStatus::error);
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", r), ParseStatus::error);
  EXPECT_EQ(parse("HTTP/1.1 099 Low\r\n\r\n", r), ParseStatus::error);
}

TEST(ResponseParser, IncompleteAndTooLarge) {
  ResponseHead r;
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nX: y", r), ParseStatus::incomplete);
  EXPECT_EQ(parse("HTT", r), ParseStatus::incomplete);
  std::string big = "HTTP/1.1 200 OK\r\nX: " + std::string(70 * 1024, 'a');
  EXPECT_EQ(parse(big, r), ParseStatus::error);
}

TEST(ResponseParser, Http10KeepAlive) {
  ResponseHead r;
  ASSERT_EQ(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", r), ParseStatus::done);
  EXPECT_FALSE(r.keep_alive);
  ASSERT_EQ(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", r),
            ParseStatus::done);
  EXPECT_TRUE(r.keep_alive);
}

TEST(ResponseParser, BareLineEndsAreRefusedBeforeTheHeadEnds) {
  // No CRLFCRLF will ever come: refused at once, not left waiting for the timeout.
  for (std::string_view raw : {"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
                               "HTTP/1.1 200 OK\r\nContent-Length: 2\n\nok",
                               "HTTP/1.1 200 OK\rContent-Length: 2\r\n", "HTTP/1.1 200 OK\n"}) {
    ResponseHead r;
    EXPECT_EQ(parse(raw, r), ParseStatus::error) << raw;
  }
  ResponseHead r;
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r", r), ParseStatus::incomplete);  // CR, LF may follow
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nA: b\r\n", r), ParseStatus::incomplete);
}
