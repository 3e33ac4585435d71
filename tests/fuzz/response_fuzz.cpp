// libFuzzer target for the upstream side: http::parse_response, the chunked decoder and
// proxy::build_client_head, composed the way server/forward.cpp relays a response
// (read_response_head: interim 1xx heads dropped, 101 refused; relay_response: the
// client framing chosen from the upstream's, the body copied, re-chunked or de-chunked).
// No sockets: the upstream's bytes are the input, read in input-derived pieces.
//
// Input: one option byte (HEAD request, HTTP/1.0 client, close requested, split seed),
// then the bytes an upstream sends. Property: a response is either refused or framed
// exactly once. When it is relayed, the bytes the client receives parse as one
// response with the upstream's status and exactly one framing (one Content-Length, one
// Transfer-Encoding: chunked, or neither and a close), whose body is the upstream body
// and which ends exactly where the client's bytes end: nothing is left over that a
// client could read as a second response. The upstream connection is reusable only
// when the upstream's bytes were consumed exactly by that one response.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chunked_support.hpp"
#include "fuzz_support.hpp"
#include "http/message.hpp"
#include "proxy/rewrite.hpp"

namespace {

using namespace gatehouse;
using namespace gatehouse::fuzz;

constexpr std::size_t kMaxResponseHead = 64 * 1024;  // as server/forward.cpp

// What the upstream sent, as the relay handles it.
struct Relayed {
  http::ResponseHead head;
  proxy::ClientFraming framing = proxy::ClientFraming::none;
  bool close = false;
  std::string client_bytes;   // head and body as written to the client
  std::string upstream_body;  // the body bytes as the upstream meant them
  bool complete = false;      // the upstream's response ended properly
  std::size_t body_taken = 0; // upstream bytes read as the body
  std::size_t leftover = 0;   // upstream bytes after the response (the connection is dropped)
};

// read_response_head: the first final head, or false when the response is refused.
bool read_head(std::string_view up, bool head_request, Splitter& split, http::ResponseHead& res,
               std::size_t& consumed) {
  consumed = 0;
  // Bytes arrive in pieces; the parser sees everything received so far each time.
  std::size_t received = 0;
  const auto pieces = split.pieces(up, 1 + split.next() % 128);
  std::size_t next_piece = 0;
  for (;;) {
    const std::string_view buf = up.substr(consumed, received - consumed);
    if (!buf.empty()) {
      const auto st = http::parse_response(buf, kMaxResponseHead, head_request, res);
      if (st == http::ParseStatus::error) return false;
      if (st == http::ParseStatus::done) {
        FUZZ_CHECK(res.head_size <= buf.size());
        if (res.status == 101) return false;
        if (res.status < 200) {
          consumed += res.head_size;
          continue;
        }
        consumed += res.head_size;
        return true;
      }
    }
    if (next_piece == pieces.size()) return false;  // EOF before a complete head
    received += pieces[next_piece++].size();
  }
}

void relay_body(std::string_view ahead, Splitter& split, std::size_t max_trailer, Relayed& r) {
  const bool to_chunked = r.framing == proxy::ClientFraming::chunked;
  switch (r.head.body) {
    case http::BodyKind::none:
      r.complete = true;
      r.leftover = ahead.size();
      return;
    case http::BodyKind::length: {
      const std::size_t n = static_cast<std::size_t>(
          std::min<std::uint64_t>(ahead.size(), r.head.content_length));
      r.upstream_body = std::string(ahead.substr(0, n));
      r.client_bytes.append(r.upstream_body);
      r.complete = n == r.head.content_length;
      r.body_taken = n;
      r.leftover = ahead.size() - n;
      return;
    }
    case http::BodyKind::until_close:
      r.upstream_body = std::string(ahead);
      if (to_chunked) {
        for (std::string_view piece : split.pieces(ahead, 1 + split.next() % 64)) append_chunk(r.client_bytes, piece);
        r.client_bytes.append("0\r\n\r\n");
      } else {
        r.client_bytes.append(ahead);
      }
      r.complete = true;  // EOF ends it
      r.body_taken = ahead.size();
      return;
    case http::BodyKind::chunked: {
      const Decoded d = decode_checked(max_trailer, ahead, split);
      r.upstream_body = d.body;
      if (to_chunked) {
        if (!d.body.empty()) append_chunk(r.client_bytes, d.body);
      } else {
        r.client_bytes.append(d.body);
      }
      r.complete = d.result == http::ChunkedDecoder::Result::done;
      if (r.complete) {
        if (to_chunked) r.client_bytes.append("0\r\n\r\n");
        r.body_taken = d.consumed;
        r.leftover = ahead.size() - d.consumed;
      }
      return;
    }
  }
}

std::size_t count_fields(const http::ResponseHead& h, std::string_view name) {
  std::size_t n = 0;
  for (const auto& f : h.fields) n += http::iequals(f.name, name) ? 1 : 0;
  return n;
}

// The client's view: one response, framed once, ending where the bytes end.
void check_client_view(const Relayed& r, bool head_request, std::size_t max_trailer, Splitter& split) {
  http::ResponseHead c;
  const auto st = http::parse_response(r.client_bytes, 1 << 20, head_request, c);
  FUZZ_CHECK(st == http::ParseStatus::done);
  FUZZ_CHECK(c.status == r.head.status);
  FUZZ_CHECK(c.status_line.substr(9) == r.head.status_line.substr(9));
  const std::size_t cls = count_fields(c, "content-length");
  const std::size_t tes = count_fields(c, "transfer-encoding");
  FUZZ_CHECK(count_fields(c, "x-request-id") == 1);
  if (r.close) FUZZ_CHECK(!c.keep_alive);
  const std::string_view body = std::string_view(r.client_bytes).substr(c.head_size);
  switch (r.framing) {
    case proxy::ClientFraming::none:
      FUZZ_CHECK(c.body == http::BodyKind::none);
      FUZZ_CHECK(tes == 0);
      FUZZ_CHECK(body.empty());
      break;
    case proxy::ClientFraming::length:
      FUZZ_CHECK(cls == 1 && tes == 0);
      FUZZ_CHECK(c.body == http::BodyKind::length);
      FUZZ_CHECK(c.content_length == r.head.content_length);
      FUZZ_CHECK(body == r.upstream_body);
      if (r.complete) FUZZ_CHECK(body.size() == c.content_length);
      break;
    case proxy::ClientFraming::chunked: {
      FUZZ_CHECK(cls == 0 && tes == 1);
      FUZZ_CHECK(c.body == http::BodyKind::chunked);
      const Decoded d = decode_checked(max_trailer, body, split);
      FUZZ_CHECK(d.body == r.upstream_body.substr(0, d.body.size()));
      if (r.complete) {
        FUZZ_CHECK(d.result == http::ChunkedDecoder::Result::done);
        FUZZ_CHECK(d.consumed == body.size());
        FUZZ_CHECK(d.body == r.upstream_body);
      }
      break;
    }
    case proxy::ClientFraming::until_close:
      FUZZ_CHECK(cls == 0 && tes == 0);
      FUZZ_CHECK(c.body == http::BodyKind::until_close);
      FUZZ_CHECK(r.close);
      FUZZ_CHECK(body == r.upstream_body);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return -1;
  const std::uint8_t options = data[0];
  const bool head_request = options & 1;
  const int client_minor = (options & 2) ? 0 : 1;
  const bool close_requested = options & 4;
  const std::size_t max_trailer = (options & 8) ? 1 + (options >> 4) * 8 : 32 * 1024;
  const std::string_view up(reinterpret_cast<const char*>(data) + 1, size - 1);
  Splitter split(hash_bytes(up) ^ options);

  Relayed r;
  std::size_t head_end = 0;
  if (!read_head(up, head_request, split, r.head, head_end)) return 0;  // refused: 502
  const http::ResponseHead& res = r.head;
  FUZZ_CHECK(res.status >= 200 && res.status <= 599);
  if (head_request || res.status == 204 || res.status == 304) FUZZ_CHECK(res.body == http::BodyKind::none);
  if (res.body == http::BodyKind::until_close) FUZZ_CHECK(!res.keep_alive);
  if (res.body == http::BodyKind::length) FUZZ_CHECK(res.content_length > 0);
  if (res.fields.size() > 990) return 0;  // the check's own parser stops at 1,000 fields

  // relay_response's framing choice.
  r.close = close_requested;
  switch (res.body) {
    case http::BodyKind::none: r.framing = proxy::ClientFraming::none; break;
    case http::BodyKind::length: r.framing = proxy::ClientFraming::length; break;
    case http::BodyKind::chunked:
    case http::BodyKind::until_close:
      if (client_minor == 1) {
        r.framing = proxy::ClientFraming::chunked;
      } else {
        r.framing = proxy::ClientFraming::until_close;
        r.close = true;
      }
      break;
  }
  proxy::build_client_head(res, r.framing, "0123456789abcdef0123456789abcdef", r.close,
                           !r.close && client_minor == 0, r.client_bytes);
  relay_body(up.substr(head_end), split, max_trailer, r);
  check_client_view(r, head_request, max_trailer, split);

  // Reuse: only when this one response took exactly the upstream's bytes.
  const bool reusable = r.complete && res.keep_alive && r.leftover == 0 &&
                        res.body != http::BodyKind::until_close;
  if (r.complete) FUZZ_CHECK(head_end + r.body_taken + r.leftover == up.size());
  if (reusable) FUZZ_CHECK(head_end + r.body_taken == up.size());
  return 0;
}
