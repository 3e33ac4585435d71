#include <gtest/gtest.h>

#include <string>

#include "http/head_syntax.hpp"
#include "http/message.hpp"

using namespace gatehouse::http;

namespace {

struct Parsed {
  ParseStatus status;
  HeadError err;
  RequestHead head;
};

Parsed parse(std::string_view raw, HeadLimits limits = {}) {
  Parsed p{};
  p.status = parse_request(raw, limits, p.head, p.err);
  return p;
}

void expect_error(std::string_view raw, HeadError want, HeadLimits limits = {}) {
  const auto p = parse(raw, limits);
  EXPECT_EQ(p.status, ParseStatus::error) << raw;
  EXPECT_EQ(p.err, want) << raw;
}

}  // namespace

TEST(RequestParser, ParsesSimpleGet) {
  const auto p = parse("GET /users/42?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Request-Id: abc\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::done);
  EXPECT_EQ(p.head.method, "GET");
  EXPECT_EQ(p.head.path, "/users/42");
  EXPECT_TRUE(p.head.has_query);
  EXPECT_EQ(p.head.query, "x=1");
  EXPECT_EQ(p.head.host, "example.com");
  EXPECT_EQ(p.head.request_id, "abc");
  EXPECT_EQ(p.head.fields.size(), 2u);
  EXPECT_EQ(p.head.body, BodyKind::none);
  EXPECT_TRUE(p.head.keep_alive);
}

TEST(RequestParser, IncompleteHeadAsksForMore) {
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\n").status, ParseStatus::incomplete);
  EXPECT_EQ(parse("GET / HT").status, ParseStatus::incomplete);
}

TEST(RequestParser, HeadSizeStopsAtEndOfHead) {
  const std::string raw = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
  const auto p = parse(raw);
  ASSERT_EQ(p.status, ParseStatus::done);
  EXPECT_EQ(p.head.head_size, raw.size() - 5);
  EXPECT_EQ(p.head.body, BodyKind::length);
  EXPECT_EQ(p.head.content_length, 5u);
}

TEST(RequestParser, ChunkedBody) {
  const auto p = parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::done);
  EXPECT_EQ(p.head.body, BodyKind::chunked);
}

TEST(RequestParser, ContentLengthWithTransferEncodingIsRefused) {
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
               HeadError::malformed);
}

TEST(RequestParser, DuplicateContentLengthIsRefusedEvenWhenEqual) {
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
               HeadError::malformed);
}

TEST(RequestParser, InvalidContentLength) {
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\n", HeadError::malformed);
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", HeadError::malformed);
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1\r\n\r\n", HeadError::malformed);
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
               HeadError::malformed);
}

TEST(RequestParser, UnknownTransferCodingIsNotImplemented) {
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
               HeadError::not_implemented);
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
               HeadError::not_implemented);
}

TEST(RequestParser, RepeatedChunkedIsMalformed) {
  expect_error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
               HeadError::malformed);
  expect_error(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
      HeadError::malformed);
}

TEST(RequestParser, TransferEncodingInHttp10IsRefused) {
  expect_error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", HeadError::malformed);
}

TEST(RequestParser, ObsFoldIsRefused) {
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  continued\r\n\r\n", HeadError::malformed);
}

TEST(RequestParser, BareLfIsRefused) {
  expect_error("GET / HTTP/1.1\nHost: a\n\n", HeadError::malformed);
  expect_error("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", HeadError::malformed);
  // Refused before the head completes, so the client is not left waiting.
  expect_error("GET / HTTP/1.1\r\nHost: a\nX", HeadError::malformed);
}

TEST(RequestParser, BareCrIsRefused) {
  expect_error("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", HeadError::malformed);
  expect_error("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::malformed);
}

TEST(RequestParser, WhitespaceBeforeColonIsRefused) {
  expect_error("GET / HTTP/1.1\r\nHost : a\r\n\r\n", HeadError::malformed);
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX-A\t: 1\r\n\r\n", HeadError::malformed);
}

TEST(RequestParser, ControlBytesInValuesAreRefused) {
  expect_error(std::string_view("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n", 39),
               HeadError::malformed);
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX-A: a\x01b\r\n\r\n", HeadError::malformed);
}

TEST(RequestParser, HostRules) {
  expect_error("GET / HTTP/1.1\r\nX: y\r\n\r\n", HeadError::malformed);
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", HeadError::malformed);
  EXPECT_EQ(parse("GET / HTTP/1.0\r\n\r\n").status, ParseStatus::done);
}

TEST(RequestParser, RequestLineShape) {
  expect_error("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::malformed);
  expect_error("GET / HTTP/2.0\r\nHost: a\r\n\r\n", HeadError::malformed);
  expect_error("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::malformed);
  expect_error("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::malformed);
  expect_error("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", HeadError::malformed);
}

TEST(RequestParser, AbsoluteFormUsesItsPath) {
  const auto p = parse("GET http://example.com/users/1?q HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::done);
  EXPECT_EQ(p.head.path, "/users/1");
  EXPECT_EQ(p.head.query, "q");
}

TEST(RequestParser, RequestLineLimitGives414EvenBeforeItEnds) {
  HeadLimits limits;
  limits.max_request_line = 32;
  expect_error("GET /" + std::string(40, 'a'), HeadError::uri_too_long, limits);
  expect_error("GET /" + std::string(40, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
               HeadError::uri_too_long, limits);
  EXPECT_EQ(parse("GET /" + std::string(10, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", limits).status,
            ParseStatus::done);
}

TEST(RequestParser, HeaderBytesLimitGives431) {
  HeadLimits limits;
  limits.max_header_bytes = 64;
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(100, 'b') + "\r\n\r\n",
               HeadError::headers_too_large, limits);
  // Also while still incomplete.
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(100, 'b'),
               HeadError::headers_too_large, limits);
}

TEST(RequestParser, HeaderCountLimitGives431) {
  HeadLimits limits;
  limits.max_headers = 3;
  expect_error("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
               HeadError::headers_too_large, limits);
  EXPECT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits).status,
            ParseStatus::done);
}

TEST(RequestParser, ConnectionManagement) {
  auto p = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(p.head.keep_alive);
  p = parse("GET / HTTP/1.0\r\n\r\n");
  EXPECT_FALSE(p.head.keep_alive);
  p = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(p.head.keep_alive);
  p = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Secret\r\n\r\n");
  ASSERT_EQ(p.head.connection_tokens.size(), 1u);
  EXPECT_EQ(p.head.connection_tokens[0], "X-Secret");
}

TEST(RequestParser, ExpectAndUpgradeFlags) {
  auto p = parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n");
  EXPECT_TRUE(p.head.expect_continue);
  p = parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
  EXPECT_TRUE(p.head.upgrade);
  EXPECT_TRUE(p.head.connection_upgrade);
  EXPECT_EQ(p.head.upgrade_value, "websocket");
  // Either half alone is still an upgrade request (refused unless it is a WebSocket one).
  p = parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n");
  EXPECT_TRUE(p.head.upgrade);
  EXPECT_FALSE(p.head.connection_upgrade);
  EXPECT_EQ(p.head.upgrade_value, "h2c");
  p = parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, upgrade\r\n\r\n");
  EXPECT_TRUE(p.head.upgrade);
  EXPECT_TRUE(p.head.connection_upgrade);
  EXPECT_EQ(p.head.upgrade_value, "");
}

TEST(RequestParser, ValuesAreTrimmed) {
  const auto p = parse("GET / HTTP/1.1\r\nHost:   a.example  \r\nX-Empty:\r\n\r\n");
  ASSERT_EQ(p.status, ParseStatus::done);
  EXPECT_EQ(p.head.host, "a.example");
  EXPECT_EQ(p.head.fields[1].value, "");
}

TEST(RequestLine, BrokenLineIsRefusedBeforeTheHeadEnds) {
  // Complete request lines that can never start a valid request: no waiting for headers.
  for (std::string_view raw : {"GET /x\r\n", "GARBAGE\r\n", "GET /x HTTP/2.0\r\n",
                               "GET  /x HTTP/1.1\r\n", "GET /x HTTP/1.1 \r\n", "G@T /x HTTP/1.1\r\n",
                               "GET /x HTTP/1.1\r\nHost: a\r\n"}) {
    if (raw.find("Host") != std::string_view::npos) continue;
    expect_error(raw, HeadError::malformed);
  }
  const auto p = parse("GET /x HTTP/1.1\r\nHost: a\r\n");
  EXPECT_EQ(p.status, ParseStatus::incomplete);  // a good line: headers may follow
}

TEST(RequestLine, TargetMustBeOriginOrAbsoluteForm) {
  for (std::string_view target : {"api/x", "*", "ftp://h/x", "http:/x", "example.com:80",
                                  "http://", "http://a@b/x", "http://a b/", "http://h?q",
                                  "//h/x#frag", "mailto:x"}) {
    const std::string raw = "GET " + std::string(target) + " HTTP/1.1\r\nHost: a\r\n\r\n";
    if (target.find(' ') != std::string_view::npos) continue;  // a space splits the line
    expect_error(raw, HeadError::malformed);
  }
  const auto abs = parse("GET http://h.example:8080/a/b?q=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(abs.status, ParseStatus::done);
  EXPECT_EQ(abs.head.path, "/a/b");
  EXPECT_EQ(abs.head.query, "q=1");
  const auto bare = parse("GET HTTPS://h.example HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(bare.status, ParseStatus::done);
  EXPECT_EQ(bare.head.path, "/");
  const auto origin = parse("GET //a/b HTTP/1.1\r\nHost: a\r\n\r\n");  // empty first segment
  ASSERT_EQ(origin.status, ParseStatus::done);
  EXPECT_EQ(origin.head.path, "//a/b");
}

TEST(RequestLine, ConnectIsNotImplemented) {
  expect_error("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
               HeadError::connect);
  expect_error("CONNECT example.com:443 HTTP/1.1\r\n", HeadError::connect);  // at once
}

TEST(RequestHost, MustBeHostAndOptionalPort) {
  for (std::string_view host : {"a/b", "a b", "a@b", "[::1", "a\tb", "\"x\"", "a\\b", "a:b:c",
                                "a:99999", "a:123456", "[::1]x", "[zz::1]", "[::1]:", "a%zz",
                                "a%4", "a#b", "a?b", "[::1]:8080:1", "[::1%25eth0]", "[v1]",
                                "a:-1", "a,b\x7f"}) {
    const std::string raw = "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n";
    if (host == "[::1]:") continue;  // an empty port is allowed by RFC 3986 (checked below)
    expect_error(raw, HeadError::malformed);
  }
  for (std::string_view host : {"example.com", "example.com:8080", "127.0.0.1", "[::1]",
                                "[::1]:8080", "[2001:db8::a:1]", "[::ffff:1.2.3.4]", "a=b",
                                "a!$&'()*+,;=b", "a%41b", "[v1.x:y]", "", "h:", "[::1]:",
                                "a-b.c_d~e", "h:65535"}) {
    const std::string raw = "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n";
    const auto p = parse(raw);
    EXPECT_EQ(p.status, ParseStatus::done) << host;
    EXPECT_EQ(p.head.host, host);
  }
}

// The value scan looks at many bytes a step; it must stop exactly where a byte-by-byte
// scan would: at every byte that is not a field-value byte, wherever it sits in a step,
// from every starting offset, and with HTAB (a value byte) among the flagged ones.
TEST(ValueScan, StopsWhereTheByteByByteScanStops) {
  using namespace gatehouse::http::detail;
  const auto reference = [](const unsigned char* b, std::size_t pos, std::size_t size) {
    while (pos < size && (kByteClass[b[pos]] & kValueByte)) ++pos;
    return pos;
  };
  constexpr std::size_t kSize = 48;
  int checked = 0;
  for (int byte = 0; byte < 256; ++byte)
    for (std::size_t at = 0; at < kSize; ++at)
      for (std::size_t start : {0u, 1u, 7u, 15u, 17u}) {
        unsigned char buf[kSize];
        for (std::size_t i = 0; i < kSize; ++i) buf[i] = static_cast<unsigned char>('a' + i % 26);
        buf[3] = '\t';  // a value byte the fast path flags
        buf[at] = static_cast<unsigned char>(byte);
        ASSERT_EQ(skip_value_bytes(buf, start, kSize), reference(buf, start, kSize))
            << "byte " << byte << " at " << at << " from " << start;
        ++checked;
      }
  EXPECT_EQ(checked, 256 * 48 * 5);
}
