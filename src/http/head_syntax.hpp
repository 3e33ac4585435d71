// http/: the syntax pieces the request and the response head parsers share (field
// lines, list items, Content-Length, Transfer-Encoding, Connection). Internal to http/.
#pragma once

#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <string_view>
#include <vector>

#include "http/message.hpp"

namespace gatehouse::http::detail {

inline constexpr std::uint64_t kMaxContentLength = 1ULL << 60;

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A field-value byte: VCHAR, obs-text, SP, HTAB. NUL, CR, LF and other controls are not.
inline bool is_value_byte(unsigned char c) { return kByteClass[c] & kValueByte; }

// A request-target byte: visible ASCII only (no controls, no space, no DEL, no obs-text).
inline bool is_target_byte(unsigned char c) { return c > 0x20 && c < 0x7f; }

inline std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

inline bool parse_content_length(std::string_view v, std::uint64_t& out) {
  if (v.empty() || v.size() > 18) return false;
  std::uint64_t n = 0;
  for (char c : v) {
    if (!is_digit(c)) return false;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (n > kMaxContentLength) return false;
  out = n;
  return true;
}

// Splits a comma-separated list, calling fn(token) for each non-empty trimmed element.
template <class Fn>
void for_each_list_item(std::string_view v, Fn&& fn) {
  while (!v.empty()) {
    const auto comma = v.find(',');
    const auto item = trim_ows(v.substr(0, comma));
    if (!item.empty()) fn(item);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
}

enum class TeVerdict { chunked, unknown_coding, malformed };

// Transfer-Encoding as a whole (all fields joined): only a lone "chunked" is served.
inline TeVerdict classify_te(std::string_view v, TeVerdict previous, bool seen_before) {
  TeVerdict verdict = TeVerdict::chunked;
  int items = 0;
  bool bad = false;
  bool unknown = false;
  for_each_list_item(v, [&](std::string_view item) {
    ++items;
    for (char c : item)
      if (!is_tchar(static_cast<unsigned char>(c))) bad = true;
    if (!iequals(item, "chunked")) unknown = true;
  });
  if (bad || items == 0) return TeVerdict::malformed;
  if (seen_before) {
    // "chunked" repeated (in one field or across fields) is ambiguous; another coding
    // is just unsupported.
    if (previous == TeVerdict::malformed) return TeVerdict::malformed;
    if (previous == TeVerdict::chunked && !unknown) return TeVerdict::malformed;
    return TeVerdict::unknown_coding;
  }
  if (items > 1) verdict = unknown ? TeVerdict::unknown_coding : TeVerdict::malformed;
  else if (unknown) verdict = TeVerdict::unknown_coding;
  return verdict;
}

// Finds the end of the head ("\r\n\r\n"); returns its size or 0.
inline std::size_t find_head_end(std::string_view buf) {
  const char* data = buf.data();
  std::size_t pos = 0;
  while (pos + 3 < buf.size()) {
    const void* cr = std::memchr(data + pos, '\r', buf.size() - pos - 3);
    if (!cr) return 0;
    pos = static_cast<std::size_t>(static_cast<const char*>(cr) - data);
    if (data[pos + 1] == '\n' && data[pos + 2] == '\r' && data[pos + 3] == '\n') return pos + 4;
    ++pos;
  }
  return 0;
}

// The first position from `pos` that does not hold a field-value byte (the value's CR,
// or a control byte the caller refuses). Values (tokens, cookies, user agents) are most
// of a head's bytes, so they are looked at many a step while none of them is a control
// byte or DEL: sixteen with SSE2 (every x86-64), eight in a 64-bit word elsewhere.
inline std::size_t skip_value_bytes(const unsigned char* bytes, std::size_t pos,
                                    std::size_t size) {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
  while (pos + 16 <= size) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + pos));
    // Flagged: below 0x20 (max(v, 0x20) is not v; bytes compare unsigned), or DEL.
    const unsigned printable =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, space), v)));
    const unsigned flagged =
        (~printable & 0xffffu) | static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, del)));
    if (flagged == 0) {
      pos += 16;
      continue;
    }
    pos += static_cast<std::size_t>(__builtin_ctz(flagged));
    if (bytes[pos] != '\t') return pos;  // the CR, or a refused byte
    ++pos;  // HTAB is a value byte: go on after it
  }
#else
  constexpr std::uint64_t k01 = 0x0101010101010101ULL, k80 = 0x8080808080808080ULL;
  while (pos + 8 <= size) {
    std::uint64_t w;
    std::memcpy(&w, bytes + pos, 8);
    // High bit of a byte: below 0x20 (an ASCII byte minus 0x20 borrows), or equal to
    // 0x7f (XOR makes it zero). Bytes 0x80 and up (obs-text) never flag.
    const std::uint64_t control = (w - 0x20 * k01) & ~w & k80;
    const std::uint64_t x = w ^ (0x7f * k01);
    const std::uint64_t del = (x - k01) & ~x & k80;
    if (control | del) {
      // HTAB (allowed), the CR or a refused byte: this word byte by byte.
      for (std::size_t end = pos + 8; pos < end; ++pos)
        if (!(kByteClass[bytes[pos]] & kValueByte)) return pos;
      continue;
    }
    pos += 8;
  }
#endif
  while (pos < size && (kByteClass[bytes[pos]] & kValueByte)) ++pos;
  return pos;
}

// Parses the header section lines [begin, end) (each ending CRLF, final empty line
// excluded). Calls on_field(name, value) for each. Returns false on any syntax error.
template <class OnField>
bool parse_fields(std::string_view block, std::size_t max_fields, std::vector<Field>& out,
                  bool& too_many, OnField&& on_field) {
  // One pass per line: the name over token bytes, the value over field-value bytes up to
  // the first byte that is not one, which must be the line's CRLF. CR is not a value
  // byte, so the scan stops there without a separate search for it.
  const auto* bytes = reinterpret_cast<const unsigned char*>(block.data());
  const std::size_t size = block.size();
  std::size_t pos = 0;
  while (pos < size) {
    const std::size_t start = pos;
    if (bytes[pos] == ' ' || bytes[pos] == '\t') return false;  // obs-fold
    while (pos < size && (kByteClass[bytes[pos]] & kTchar)) ++pos;
    if (pos == start || pos >= size || bytes[pos] != ':') return false;  // includes "Name :"
    const std::string_view name(block.data() + start, pos - start);
    ++pos;
    while (pos < size && (bytes[pos] == ' ' || bytes[pos] == '\t')) ++pos;
    const std::size_t value_start = pos;
    pos = skip_value_bytes(bytes, pos, size);
    // NUL, a bare LF or another control inside the value, or a bare CR: not a line end.
    if (pos + 1 >= size || bytes[pos] != '\r' || bytes[pos + 1] != '\n') return false;
    std::size_t value_end = pos;
    while (value_end > value_start && (bytes[value_end - 1] == ' ' || bytes[value_end - 1] == '\t'))
      --value_end;
    const std::string_view value(block.data() + value_start, value_end - value_start);
    pos += 2;
    if (out.size() >= max_fields) {
      too_many = true;
      return false;
    }
    out.push_back(Field{name, value});
    if (!on_field(name, value)) return false;
  }
  return true;
}

// Returns false when the connection tokens contain junk.
inline bool parse_connection(std::string_view v, bool& close, bool& keep_alive_token,
                             bool& upgrade, std::vector<std::string_view>& tokens) {
  bool ok = true;
  for_each_list_item(v, [&](std::string_view item) {
    for (char c : item)
      if (!is_tchar(static_cast<unsigned char>(c))) ok = false;
    if (iequals(item, "close")) close = true;
    else if (iequals(item, "keep-alive")) keep_alive_token = true;
    else if (iequals(item, "upgrade")) upgrade = true;
    else tokens.push_back(item);
  });
  return ok;
}

}  // namespace gatehouse::http::detail
