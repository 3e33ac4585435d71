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

// Field values are checked eight bytes at a time: every byte at every position of a
// 21-byte value (three words, the last partial) is accepted exactly when it is a
// field-value byte (VCHAR, obs-text, SP, HTAB), and the value keeps its bytes.
TEST(ResponseParser, EveryByteAtEveryPositionOfAValue) {
  ResponseHead r;
  for (std::size_t at = 0; at < 21; ++at) {
    for (int b = 0; b < 256; ++b) {
      std::string value(21, 'v');
      value[at] = static_cast<char>(b);
      const std::string raw = "HTTP/1.1 200 OK\r\nX-Long: " + value + "\r\nContent-Length: 0\r\n\r\n";
      const bool allowed = b == '\t' || (b >= 0x20 && b != 0x7f);
      const auto st = parse(raw, r);
      if (!allowed) {
        // CR and LF end the line early (a bare one is refused); the others are refused.
        EXPECT_EQ(st, ParseStatus::error) << "byte " << b << " at " << at;
        continue;
      }
      ASSERT_EQ(st, ParseStatus::done) << "byte " << b << " at " << at;
      ASSERT_EQ(r.fields.size(), 2u);
      std::string_view want(value);
      // Leading and trailing SP/HTAB are not part of the value.
      while (!want.empty() && (want.front() == ' ' || want.front() == '\t')) want.remove_prefix(1);
      while (!want.empty() && (want.back() == ' ' || want.back() == '\t')) want.remove_suffix(1);
      EXPECT_EQ(r.fields[0].value, want) << "byte " << b << " at " << at;
    }
  }
}
