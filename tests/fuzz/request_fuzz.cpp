// libFuzzer target for http/: the request head parser and the chunked decoder.
//
// Input: one option byte (which limits, where the stream is split), then the bytes a
// client sends. Properties:
// - a head is judged the same whether it arrives whole or in pieces: a prefix of the
//   stream is never accepted as a different head, and a prefix that is refused means
//   the whole stream is refused too;
// - every accepted head is well formed (names are tokens, values trimmed and free of
//   CR, LF and NUL, path and query are parts of the target, framing is consistent);
// - an accepted message re-serialised to its canonical form (request line, fields as
//   "name: value", the body as one chunk or as Content-Length bytes) parses to the same
//   thing: method, target, version, fields, framing and body bytes; and the canonical
//   form of that is the same text again;
// - the chunked decoder gives the same result, body and message size whole or in pieces.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chunked_support.hpp"
#include "fuzz_support.hpp"
#include "http/message.hpp"

namespace {

using namespace gatehouse;
using namespace gatehouse::fuzz;

bool is_field_value_clean(std::string_view v) {
  if (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.back() == ' ' || v.back() == '\t'))
    return false;
  for (unsigned char c : v)
    if (c == '\r' || c == '\n' || c == 0) return false;
  return true;
}

bool is_within(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check_well_formed(const http::RequestHead& h, std::string_view buf) {
  FUZZ_CHECK(h.head_size >= 4 && h.head_size <= buf.size());
  FUZZ_CHECK(buf.substr(h.head_size - 4, 4) == "\r\n\r\n");
  FUZZ_CHECK(!h.method.empty() && !h.target.empty());
  for (unsigned char c : h.method) FUZZ_CHECK(http::is_tchar(c));
  // An absolute-form target without a path ("http://h") has the path "/".
  FUZZ_CHECK((is_within(h.path, h.target) || h.path == "/") && is_within(h.query, h.target));
  FUZZ_CHECK(h.has_query || h.query.empty());
  FUZZ_CHECK(h.minor == 0 || h.minor == 1);
  for (const auto& f : h.fields) {
    FUZZ_CHECK(!f.name.empty());
    for (unsigned char c : f.name) FUZZ_CHECK(http::is_tchar(c));
    FUZZ_CHECK(is_field_value_clean(f.value));
  }
  FUZZ_CHECK(h.body != http::BodyKind::until_close);  // a request body is always framed
  FUZZ_CHECK((h.body == http::BodyKind::length) == (h.content_length > 0 && h.body != http::BodyKind::chunked));
  if (h.minor == 1) FUZZ_CHECK(h.has_host);
  FUZZ_CHECK(h.has_host || h.host.empty());
}

std::string canonical_head(const http::RequestHead& h) {
  std::string out;
  out.append(h.method).append(" ").append(h.target).append(h.minor == 1 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
  for (const auto& f : h.fields) out.append(f.name).append(": ").append(f.value).append("\r\n");
  out.append("\r\n");
  return out;
}

void check_same_head(const http::RequestHead& a, const http::RequestHead& b) {
  FUZZ_CHECK(a.method == b.method);
  FUZZ_CHECK(a.target == b.target);
  FUZZ_CHECK(a.path == b.path);
  FUZZ_CHECK(a.query == b.query && a.has_query == b.has_query);
  FUZZ_CHECK(a.minor == b.minor);
  FUZZ_CHECK(a.fields.size() == b.fields.size());
  for (std::size_t i = 0; i < a.fields.size(); ++i) {
    FUZZ_CHECK(a.fields[i].name == b.fields[i].name);
    FUZZ_CHECK(a.fields[i].value == b.fields[i].value);
  }
  FUZZ_CHECK(a.body == b.body);
  FUZZ_CHECK(a.content_length == b.content_length);
  FUZZ_CHECK(a.host == b.host && a.has_host == b.has_host);
  FUZZ_CHECK(a.request_id == b.request_id);
  FUZZ_CHECK(a.api_version == b.api_version);
  FUZZ_CHECK(a.keep_alive == b.keep_alive);
  FUZZ_CHECK(a.expect_continue == b.expect_continue);
  FUZZ_CHECK(a.upgrade == b.upgrade);
  FUZZ_CHECK(a.connection_tokens.size() == b.connection_tokens.size());
  for (std::size_t i = 0; i < a.connection_tokens.size(); ++i)
    FUZZ_CHECK(a.connection_tokens[i] == b.connection_tokens[i]);
}

// The head as it would be judged when the client's bytes arrive in pieces: the parser
// runs on the buffer so far after every read, as the session does.
void check_prefixes(std::string_view msg, const http::HeadLimits& limits, http::ParseStatus full,
                    const http::RequestHead& full_head, http::HeadError full_err, Splitter& split) {
  std::size_t end = 0;
  for (std::string_view piece : split.pieces(msg, 1 + split.next() % 64)) {
    end += piece.size();
    if (end == msg.size()) break;
    http::RequestHead h;
    http::HeadError err = http::HeadError::none;
    const auto st = http::parse_request(msg.substr(0, end), limits, h, err);
    if (st == http::ParseStatus::done) {
      FUZZ_CHECK(full == http::ParseStatus::done);
      FUZZ_CHECK(h.head_size == full_head.head_size);
      check_same_head(h, full_head);
      return;  // the session stops reading the head here too
    }
    if (st == http::ParseStatus::error) {
      FUZZ_CHECK(full == http::ParseStatus::error);
      // The same status, except between 400 and 414/431: a head that is both malformed
      // and over a limit may show either first, depending on where the bytes stop.
      const auto soft = [](http::HeadError e) { return e != http::HeadError::not_implemented; };
      FUZZ_CHECK(err == full_err || (soft(err) && soft(full_err)));
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return -1;
  const std::uint8_t options = data[0];
  const std::string_view msg(reinterpret_cast<const char*>(data) + 1, size - 1);
  Splitter split(hash_bytes(msg) ^ options);

  // Small limits let short inputs reach the 414/431 boundaries.
  http::HeadLimits limits;
  std::size_t max_trailer = 32 * 1024;
  if (options & 1) {
    limits.max_request_line = 16 + (options >> 4) * 4;
    limits.max_header_bytes = 32 + (options >> 4) * 16;
    limits.max_headers = 1 + ((options >> 1) & 7);
    max_trailer = 1 + (options >> 4) * 8;
  }

  http::RequestHead head;
  http::HeadError err = http::HeadError::none;
  const auto st = http::parse_request(msg, limits, head, err);
  FUZZ_CHECK((st == http::ParseStatus::error) == (err != http::HeadError::none));
  check_prefixes(msg, limits, st, head, err, split);
  if (st != http::ParseStatus::done) return 0;
  check_well_formed(head, msg);

  // Trailing bytes after the head do not change how it is read.
  {
    http::RequestHead again;
    http::HeadError again_err;
    const std::string longer = std::string(msg.substr(0, head.head_size)) + "GET / HTTP/1.1\r\n";
    FUZZ_CHECK(http::parse_request(longer, limits, again, again_err) == http::ParseStatus::done);
    check_same_head(again, head);
  }

  // The body as the gateway reads it.
  const std::string_view rest = msg.substr(head.head_size);
  std::string body;
  bool body_complete = true;
  if (head.body == http::BodyKind::chunked) {
    const Decoded d = decode_checked(max_trailer, rest, split);
    if (d.result != http::ChunkedDecoder::Result::done) return 0;  // refused or cut short
    body = d.body;
  } else if (head.body == http::BodyKind::length) {
    body_complete = rest.size() >= head.content_length;
    body = std::string(rest.substr(0, static_cast<std::size_t>(
                                          std::min<std::uint64_t>(rest.size(), head.content_length))));
  }

  // The canonical form parses to the same message.
  std::string canon = canonical_head(head);
  const std::size_t canon_head_size = canon.size();
  if (head.body == http::BodyKind::chunked) {
    if (!body.empty()) append_chunk(canon, body);
    canon.append("0\r\n\r\n");
  } else {
    canon.append(body);
  }
  // The canonical request line is the original one; a field may grow by the space
  // after its colon.
  http::HeadLimits roomy = limits;
  roomy.max_header_bytes += head.fields.size();
  http::RequestHead reparsed;
  http::HeadError reparsed_err = http::HeadError::none;
  const auto st2 = http::parse_request(canon, roomy, reparsed, reparsed_err);
  FUZZ_CHECK(st2 == http::ParseStatus::done);
  FUZZ_CHECK(reparsed.head_size == canon_head_size);
  check_same_head(reparsed, head);
  FUZZ_CHECK(canonical_head(reparsed) == canon.substr(0, canon_head_size));

  const std::string_view canon_body = std::string_view(canon).substr(canon_head_size);
  if (head.body == http::BodyKind::chunked) {
    const Decoded d = decode_checked(max_trailer, canon_body, split);
    FUZZ_CHECK(d.result == http::ChunkedDecoder::Result::done);
    FUZZ_CHECK(d.consumed == canon_body.size());
    FUZZ_CHECK(d.body == body);
  } else if (head.body == http::BodyKind::length && body_complete) {
    FUZZ_CHECK(canon_body.size() == reparsed.content_length);
    FUZZ_CHECK(canon_body == body);
  } else if (head.body == http::BodyKind::none) {
    FUZZ_CHECK(canon_body.empty());
  }
  return 0;
}
