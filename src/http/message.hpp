// http/: strict HTTP/1.x head parsing, chunked coding and header rules. No I/O.
// Everything here works on views into the connection's read buffer: no copies.
#pragma once

#include <array>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/ascii.hpp"

namespace gatehouse::http {

struct Field {
  std::string_view name;
  std::string_view value;  // OWS trimmed
};

enum class BodyKind { none, length, chunked, until_close };

struct HeadLimits {
  std::size_t max_request_line = 8 * 1024;
  std::size_t max_header_bytes = 32 * 1024;
  std::size_t max_headers = 100;
};

// Why a head was refused; maps to the client status (400, 414, 431, 501) or, for
// upstream responses, to a 502.
enum class HeadError {
  none,
  malformed,        // 400
  uri_too_long,     // 414
  headers_too_large,// 431
  not_implemented,  // 501 (unknown transfer coding)
  connect,          // 501 (CONNECT: no tunnels)
};

struct RequestHead {
  std::size_t head_size = 0;        // bytes of the head, final CRLF included
  std::string_view method;
  std::string_view target;          // as sent
  std::string_view path;            // target without the query
  std::string_view query;           // after '?', without it; empty when none
  bool has_query = false;
  int minor = 1;                    // HTTP/1.<minor>
  std::vector<Field> fields;
  BodyKind body = BodyKind::none;
  std::uint64_t content_length = 0;
  std::string_view host;
  std::string_view request_id;
  std::string_view api_version;
  bool has_host = false;
  bool keep_alive = true;
  bool expect_continue = false;
  bool upgrade = false;             // an Upgrade field, or Connection: upgrade
  bool connection_upgrade = false;  // Connection lists "upgrade"
  std::string_view upgrade_value;   // the Upgrade field ("" when absent; repeated: the first)
  // Field names listed by Connection, to be dropped when forwarding.
  std::vector<std::string_view> connection_tokens;

  void clear();
};

struct ResponseHead {
  std::size_t head_size = 0;
  int minor = 1;
  int status = 0;
  std::string_view status_line;     // "HTTP/1.1 200 OK" without CRLF
  std::vector<Field> fields;
  BodyKind body = BodyKind::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;
  std::vector<std::string_view> connection_tokens;

  void clear();
};

enum class ParseStatus { incomplete, done, error };

// Parses a request head from the start of `buf`. `incomplete` means more bytes are
// needed (limits are still enforced on a partial head, so a client cannot grow it
// forever). On `error`, `err` says which status to answer.
ParseStatus parse_request(std::string_view buf, const HeadLimits& limits, RequestHead& out,
                          HeadError& err);

// Parses an upstream response head. `request_method_head` makes the body empty.
ParseStatus parse_response(std::string_view buf, std::size_t max_head, bool request_method_head,
                           ResponseHead& out);

using gatehouse::iequals;  // common/ascii.hpp

namespace detail {
// Byte classes of the head syntax, one table lookup per byte on the parsers' hot loops.
inline constexpr unsigned char kTchar = 1;      // token character, RFC 9110 5.6.2
inline constexpr unsigned char kValueByte = 2;  // field-value byte: VCHAR, obs-text, SP, HTAB
inline constexpr auto kByteClass = [] {
  std::array<unsigned char, 256> t{};
  for (int c = 0; c < 256; ++c)
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) t[static_cast<std::size_t>(c)] |= kValueByte;
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] |= kTchar;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] |= kTchar;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] |= kTchar;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] |= kTchar;
  return t;
}();
}  // namespace detail

// True for a token character of RFC 9110 5.6.2.
inline bool is_tchar(unsigned char c) { return detail::kByteClass[c] & detail::kTchar; }

}  // namespace gatehouse::http
