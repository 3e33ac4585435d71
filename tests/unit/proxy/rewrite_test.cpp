#include <gtest/gtest.h>

#include <deque>
#include <string>

#include "http/message.hpp"
#include "proxy/rewrite.hpp"

using namespace gatehouse;

namespace {

// The head holds views into the raw bytes, which must outlive it.
http::RequestHead parse_req(const char* raw_text) {
  static std::deque<std::string> keep;
  const std::string& raw = keep.emplace_back(raw_text);
  http::RequestHead head;
  http::HeadError err;
  EXPECT_EQ(http::parse_request(raw, {}, head, err), http::ParseStatus::done) << raw;
  return head;
}

bool has_line(const std::string& head, const std::string& line) {
  return head.find("\r\n" + line + "\r\n") != std::string::npos;
}

bool has_field(const std::string& head, const std::string& name) {
  return head.find("\r\n" + name + ":") != std::string::npos;
}

// The upstream head of `req` forwarded to host "up" for client 3.3.3.3.
std::string forwarded_head(const http::RequestHead& req, std::string_view path = "/") {
  proxy::ForwardInfo info;
  info.path = path;
  info.host = "up";
  info.client_ip = "3.3.3.3";
  info.prefix = "/";
  info.request_id = "new";
  std::string out;
  proxy::build_upstream_head(req, info, out);
  return out;
}

}  // namespace

TEST(UpstreamPath, StripsPrefixAndJoinsBasePath) {
  std::string out;
  proxy::upstream_path("/api", "/users/v1", "/users/v1/42", true, out);
  EXPECT_EQ(out, "/api/42");
  proxy::upstream_path("/api", "/users/v1", "/users/v1", true, out);
  EXPECT_EQ(out, "/api");
  proxy::upstream_path("", "/users/v1", "/users/v1", true, out);
  EXPECT_EQ(out, "/");
  proxy::upstream_path("", "/users/v1", "/users/v1/", true, out);
  EXPECT_EQ(out, "/");
  proxy::upstream_path("/api", "/users", "/users/42", false, out);
  EXPECT_EQ(out, "/api/users/42");
  proxy::upstream_path("", "/", "/anything/here", true, out);
  EXPECT_EQ(out, "/anything/here");
}

TEST(UpstreamHead, ForwardsEndToEndAndDropsHopByHop) {
  const auto req = parse_req(
      "POST /users/1?a=b HTTP/1.1\r\nHost: gw.example\r\nAuthorization: Bearer t\r\n"
      "Cookie: s=1\r\nConnection: keep-alive, X-Private\r\nX-Private: secret\r\n"
      "Keep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-T\r\nProxy-Connection: keep-alive\r\n"
      "Proxy-Authorization: Basic x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  proxy::ForwardInfo info;
  info.path = "/api/1";
  info.host = "127.0.0.1:9001";
  info.client_ip = "10.0.0.1";
  info.prefix = "/users";
  info.request_id = "rid-1";
  std::string out;
  proxy::build_upstream_head(req, info, out);
  EXPECT_EQ(out.rfind("POST /api/1?a=b HTTP/1.1\r\n", 0), 0u) << out;
  EXPECT_TRUE(has_line(out, "Host: 127.0.0.1:9001"));
  EXPECT_TRUE(has_line(out, "Authorization: Bearer t"));
  EXPECT_TRUE(has_line(out, "Cookie: s=1"));
  EXPECT_TRUE(has_line(out, "Content-Length: 3"));
  EXPECT_TRUE(has_line(out, "X-Forwarded-For: 10.0.0.1"));
  EXPECT_TRUE(has_line(out, "X-Forwarded-Proto: http"));
  EXPECT_TRUE(has_line(out, "X-Forwarded-Host: gw.example"));
  EXPECT_TRUE(has_line(out, "X-Forwarded-Prefix: /users"));
  EXPECT_TRUE(has_line(out, "X-Request-Id: rid-1"));
  for (auto name : {"Connection", "X-Private", "Keep-Alive", "TE", "Trailer", "Proxy-Connection",
                    "Proxy-Authorization", "Expect"})
    EXPECT_FALSE(has_field(out, name)) << name << "\n" << out;
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST(UpstreamHead, AppendsToExistingForwardedFor) {
  const auto req = parse_req(
      "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n"
      "X-Forwarded-Proto: https\r\nX-Request-Id: old\r\n\r\n");
  const std::string out = forwarded_head(req);
  EXPECT_TRUE(has_line(out, "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3")) << out;
  EXPECT_TRUE(has_line(out, "X-Forwarded-Proto: http"));
  EXPECT_TRUE(has_line(out, "X-Request-Id: new"));
  EXPECT_FALSE(has_line(out, "X-Request-Id: old"));
}

TEST(UpstreamHead, ChunkedRequestStaysChunked) {
  const auto req =
      parse_req("PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  proxy::ForwardInfo info;
  info.path = "/x";
  info.host = "up";
  std::string out;
  proxy::build_upstream_head(req, info, out);
  EXPECT_TRUE(has_line(out, "Transfer-Encoding: chunked"));
  EXPECT_FALSE(has_field(out, "Content-Length"));
}

TEST(ClientHead, KeepsStatusAndEndToEndFields) {
  http::ResponseHead res;
  ASSERT_EQ(http::parse_response("HTTP/1.0 404 Nope\r\nX-App: 1\r\nConnection: close, X-Hop\r\n"
                                 "X-Hop: 2\r\nSet-Cookie: a=b\r\nX-Request-Id: theirs\r\n"
                                 "Content-Length: 5\r\n\r\n",
                                 65536, false, res),
            http::ParseStatus::done);
  std::string out;
  proxy::build_client_head(res, proxy::ClientFraming::length, "rid", false, false, out);
  EXPECT_EQ(out.rfind("HTTP/1.1 404 Nope\r\n", 0), 0u) << out;
  EXPECT_TRUE(has_line(out, "X-App: 1"));
  EXPECT_TRUE(has_line(out, "Set-Cookie: a=b"));
  EXPECT_TRUE(has_line(out, "X-Request-Id: rid"));
  EXPECT_TRUE(has_line(out, "Content-Length: 5"));
  EXPECT_FALSE(has_field(out, "X-Hop"));
  EXPECT_FALSE(has_field(out, "Connection"));
  EXPECT_EQ(out.find("theirs"), std::string::npos);
}

TEST(ClientHead, ChunkedFramingAndClose) {
  http::ResponseHead res;
  ASSERT_EQ(http::parse_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 65536,
                                 false, res),
            http::ParseStatus::done);
  std::string out;
  proxy::build_client_head(res, proxy::ClientFraming::chunked, "r", true, false, out);
  EXPECT_TRUE(has_line(out, "Transfer-Encoding: chunked"));
  EXPECT_TRUE(has_line(out, "Connection: close"));
}

// Empty parts with no data behind them (a default view: an empty field value, an empty
// request id, no extra fields) are written as nothing; the fuzzer found the head writer
// passing such a view's null pointer to memcpy, which UBSan reports.
TEST(ClientHead, EmptyViewsWithoutDataAreWrittenAsNothing) {
  http::ResponseHead res;
  res.status_line = "HTTP/1.1 204";
  res.fields.push_back(http::Field{"X-Empty", std::string_view{}});
  res.fields.push_back(http::Field{"X-Kept", "1"});
  std::string out;
  proxy::build_client_head(res, proxy::ClientFraming::none, std::string_view{}, false, false,
                           out, std::string_view{});
  EXPECT_EQ(out, "HTTP/1.1 204\r\nX-Empty: \r\nX-Kept: 1\r\nX-Request-Id: \r\n\r\n");
}

TEST(UpstreamHead, DropsFieldNamesWithUnderscores) {
  // An upstream that folds "_" into "-" would read these as framing we never checked.
  const auto req = parse_req(
      "GET /x HTTP/1.1\r\nHost: gw.example\r\nTransfer_Encoding: chunked\r\n"
      "Content_Length: 5\r\nX_Forwarded_For: 6.6.6.6\r\nX-Kept: 1\r\n\r\n");
  const std::string out = forwarded_head(req, "/x");
  EXPECT_EQ(out.find('_'), std::string::npos) << out;
  EXPECT_TRUE(has_line(out, "X-Kept: 1"));
  EXPECT_TRUE(has_line(out, "X-Forwarded-For: 3.3.3.3")) << out;
  EXPECT_FALSE(has_field(out, "Transfer-Encoding"));
  EXPECT_FALSE(has_field(out, "Content-Length"));
}

TEST(UpstreamHead, WebSocketHandshakeKeepsItsUpgradeHeaders) {
  const auto req = parse_req(
      "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade, X-Hop\r\n"
      "X-Hop: 1\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Protocol: chat\r\n\r\n");
  proxy::ForwardInfo info;
  info.path = "/chat";
  info.host = "up";
  info.client_ip = "3.3.3.3";
  info.prefix = "/";
  info.request_id = "rid";
  std::string plain;
  proxy::build_upstream_head(req, info, plain);
  EXPECT_FALSE(has_field(plain, "Upgrade")) << plain;  // not a handshake: hop-by-hop
  info.websocket = true;
  std::string out;
  proxy::build_upstream_head(req, info, out);
  EXPECT_TRUE(has_line(out, "Upgrade: websocket")) << out;
  EXPECT_TRUE(has_line(out, "Connection: upgrade")) << out;
  EXPECT_TRUE(has_line(out, "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")) << out;
  EXPECT_TRUE(has_line(out, "Sec-WebSocket-Version: 13")) << out;
  EXPECT_TRUE(has_line(out, "Sec-WebSocket-Protocol: chat")) << out;
  EXPECT_FALSE(has_field(out, "X-Hop")) << out;
}

TEST(ClientHead, SwitchingProtocolsKeepsUpgradeAndAccept) {
  http::ResponseHead res;
  ASSERT_EQ(http::parse_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade, X-Hop\r\nX-Hop: 1\r\n"
                                 "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                                 "X-Request-Id: theirs\r\n\r\n",
                                 65536, false, res),
            http::ParseStatus::done);
  std::string out;
  proxy::build_switching_head(res, "rid", out);
  EXPECT_EQ(out.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << out;
  EXPECT_TRUE(has_line(out, "Upgrade: websocket")) << out;
  EXPECT_TRUE(has_line(out, "Connection: upgrade")) << out;
  EXPECT_TRUE(has_line(out, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) << out;
  EXPECT_TRUE(has_line(out, "X-Request-Id: rid")) << out;
  EXPECT_FALSE(has_field(out, "X-Hop")) << out;
  EXPECT_FALSE(has_field(out, "Content-Length")) << out;
  EXPECT_FALSE(has_field(out, "Transfer-Encoding")) << out;
  EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST(UpstreamHead, ClientCertSubjectIsOursAloneAndProtoFollowsTheListener) {
  const auto req = parse_req(
      "GET / HTTP/1.1\r\nHost: h\r\nX-Client-Cert-Subject: CN=forged\r\n"
      "x-client-cert-subject: CN=forged too\r\n\r\n");
  // A plain listener: the client's copies are dropped, nothing is added.
  const std::string plain = forwarded_head(req);
  EXPECT_EQ(plain.find("forged"), std::string::npos) << plain;
  EXPECT_FALSE(has_field(plain, "X-Client-Cert-Subject"));
  EXPECT_TRUE(has_line(plain, "X-Forwarded-Proto: http"));
  // mTLS: only the verified subject.
  proxy::ForwardInfo info;
  info.path = "/";
  info.host = "up";
  info.client_ip = "3.3.3.3";
  info.proto = "https";
  info.prefix = "/";
  info.request_id = "new";
  info.client_cert_subject = "CN=client one,O=Example";
  std::string out;
  proxy::build_upstream_head(req, info, out);
  EXPECT_EQ(out.find("forged"), std::string::npos) << out;
  EXPECT_TRUE(has_line(out, "X-Client-Cert-Subject: CN=client one,O=Example")) << out;
  EXPECT_TRUE(has_line(out, "X-Forwarded-Proto: https"));
}
