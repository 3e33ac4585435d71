// hash_key (SPEC section 13): where a request's key comes from.
#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "balance/request_key.hpp"

namespace gatehouse::balance {
namespace {

// The head holds views into the raw bytes, which must outlive it.
http::RequestHead parse(std::string raw) {
  static std::deque<std::string> keep;
  const std::string& text = keep.emplace_back(std::move(raw));
  http::RequestHead head;
  http::HeadError err;
  EXPECT_EQ(http::parse_request(text, {}, head, err), http::ParseStatus::done) << text;
  return head;
}

config::HashKey key(config::HashKey::Source source, std::string name = "") {
  return config::HashKey{source, std::move(name)};
}

using Source = config::HashKey::Source;

TEST(RequestKey, ClientIp) {
  const auto head = parse("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 9.9.9.9\r\n\r\n");
  EXPECT_EQ(request_key(key(Source::client_ip), head, "10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(request_key(key(Source::client_ip), head, ""), std::nullopt);
}

TEST(RequestKey, HeaderIsCaseInsensitiveAndTheFirstWins) {
  const auto head =
      parse("GET / HTTP/1.1\r\nHost: h\r\nx-user-id:  alice \r\nX-User-Id: bob\r\n\r\n");
  EXPECT_EQ(request_key(key(Source::header, "X-User-Id"), head, "ip"), "alice");
  EXPECT_EQ(request_key(key(Source::header, "X-Other"), head, "ip"), std::nullopt);
  const auto empty = parse("GET / HTTP/1.1\r\nHost: h\r\nX-User-Id:\r\n\r\n");
  EXPECT_EQ(request_key(key(Source::header, "X-User-Id"), empty, "ip"), std::nullopt);
}

TEST(RequestKey, Cookie) {
  const auto head = parse(
      "GET / HTTP/1.1\r\nHost: h\r\nCookie: theme=dark; session=abc123;lang=en\r\n"
      "Cookie: other=1; session2=zzz\r\n\r\n");
  EXPECT_EQ(request_key(key(Source::cookie, "session"), head, "ip"), "abc123");
  EXPECT_EQ(request_key(key(Source::cookie, "lang"), head, "ip"), "en");
  EXPECT_EQ(request_key(key(Source::cookie, "session2"), head, "ip"), "zzz");  // 2nd field
  EXPECT_EQ(request_key(key(Source::cookie, "Session"), head, "ip"), std::nullopt);  // exact
  EXPECT_EQ(request_key(key(Source::cookie, "sess"), head, "ip"), std::nullopt);
  const auto none = parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(request_key(key(Source::cookie, "session"), none, "ip"), std::nullopt);
}

TEST(RequestKey, CookieValueSyntax) {
  EXPECT_EQ(cookie_value("a=1", "a"), "1");
  EXPECT_EQ(cookie_value(" a = 1 ;b=2", "b"), "2");
  EXPECT_EQ(cookie_value("a=1; flag; b=x=y", "b"), "x=y");
  EXPECT_EQ(cookie_value("a=\"q\"", "a"), "\"q\"");
  EXPECT_EQ(cookie_value("", "a"), std::nullopt);
  EXPECT_EQ(cookie_value("ab=1", "a"), std::nullopt);
}

TEST(RequestKey, Query) {
  const auto head = parse("GET /x?tenant=acme&user=42&user=43&flag HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(request_key(key(Source::query, "user"), head, "ip"), "42");
  EXPECT_EQ(request_key(key(Source::query, "tenant"), head, "ip"), "acme");
  EXPECT_EQ(request_key(key(Source::query, "flag"), head, "ip"), std::nullopt);  // empty
  EXPECT_EQ(request_key(key(Source::query, "use"), head, "ip"), std::nullopt);
  const auto bare = parse("GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(request_key(key(Source::query, "user"), bare, "ip"), std::nullopt);
  EXPECT_EQ(query_value("a=1&b=%20x", "b"), "%20x");  // raw bytes, not decoded
  EXPECT_EQ(query_value("a", "a"), "");
  EXPECT_EQ(query_value("", "a"), std::nullopt);
}

TEST(RequestKey, NoSourceNoKey) {
  const auto head = parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(request_key(config::HashKey{}, head, "1.2.3.4"), std::nullopt);
}

}  // namespace
}  // namespace gatehouse::balance
