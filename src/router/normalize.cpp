#include "router/normalize.hpp"

#include <array>
#include <cstdint>

namespace gatehouse::router {
namespace {

enum class ByteClass : std::uint8_t { invalid, unreserved, allowed, slash, percent };

// RFC 3986 pchar plus '/': unreserved, sub-delims, ':', '@', and '%' escapes.
// Everything else is rejected, including:
// - '[' and ']': gen-delims that RFC 3986 allows only in the host's IP-literal, never
// in
//   a path. Accepting them raw would let two spellings of one path (raw and %5B) reach
//   an upstream that treats them differently, so they must arrive percent-encoded.
// - '?' : the caller strips the query first; a '?' here means the target was split
//   wrongly, and routing on it would route on query text.
// - '#', controls, space, DEL, bytes >= 0x80, and '"' '<' '>' '\\' '^' '`' '{' '|' '}'.
constexpr std::array<ByteClass, 256> make_classes() {
  std::array<ByteClass, 256> t{};  // value-initialised: all invalid
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = ByteClass::unreserved;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = ByteClass::unreserved;
  for (int c = '0'; c <= '9'; ++c) t[c] = ByteClass::unreserved;
  for (unsigned char c : {'-', '.', '_', '~'}) t[c] = ByteClass::unreserved;
  for (unsigned char c :
       {'!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@'})
    t[c] = ByteClass::allowed;
  t['/'] = ByteClass::slash;
  t['%'] = ByteClass::percent;
  return t;
}
constexpr auto kClasses = make_classes();

constexpr int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

constexpr char to_upper_hex(char c) {
  return (c >= 'a' && c <= 'f') ? char(c - 32) : c;
}

ByteClass class_of(char c) { return kClasses[static_cast<unsigned char>(c)]; }

// True when normalising would give `path` back unchanged: only unreserved and allowed
// bytes between the slashes (no escape to decode or upper-case), and no "." or ".."
// segment. Most request paths are; they are checked without being rebuilt byte by byte.
bool already_normal(std::string_view path) {
  const std::size_t n = path.size();
  for (std::size_t i = 1; i < n; ++i) {  // path[0] is '/'
    const ByteClass cls = class_of(path[i]);
    if (cls == ByteClass::slash) continue;
    if (cls != ByteClass::unreserved && cls != ByteClass::allowed) return false;
    if (path[i] == '.' && path[i - 1] == '/') {
      const bool one = i + 1 == n || path[i + 1] == '/';
      const bool two = i + 1 < n && path[i + 1] == '.' && (i + 2 == n || path[i + 2] == '/');
      if (one || two) return false;
    }
  }
  return true;
}

}  // namespace

// One pass: each segment is validated and decoded straight into `out`, and dot segments
// are resolved as soon as a segment ends, treating `out` as the RFC 5.2.4 output
// buffer. The result is never longer than the input, so one reserve() is the only
// allocation (none at all for paths that fit the small-string buffer).
std::optional<std::string> normalize_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  if (already_normal(path)) return std::string(path);

  std::string out;
  out.reserve(path.size());

  std::size_t i = 0;
  const std::size_t n = path.size();
  while (i < n) {
    // path[i] == '/': start of a segment. `mark` is where this segment's '/' goes, so
    // resizing to it drops the segment; out[0, mark) is the output buffer so far.
    const std::size_t mark = out.size();
    out.push_back('/');
    ++i;
    while (i < n && path[i] != '/') {
      const char c = path[i];
      switch (class_of(c)) {
        case ByteClass::unreserved:
        case ByteClass::allowed:
          out.push_back(c);
          ++i;
          break;
        case ByteClass::percent: {
          if (n - i < 3) return std::nullopt;
          const int hi = hex_value(path[i + 1]);
          const int lo = hex_value(path[i + 2]);
          if (hi < 0 || lo < 0) return std::nullopt;
          const char decoded = static_cast<char>(hi * 16 + lo);
          if (class_of(decoded) == ByteClass::unreserved) {
            out.push_back(decoded);
          } else {
            out.push_back('%');
            out.push_back(to_upper_hex(path[i + 1]));
            out.push_back(to_upper_hex(path[i + 2]));
          }
          i += 3;
          break;
        }
        case ByteClass::slash:  // unreachable: the loop stops at '/'
        case ByteClass::invalid:
          return std::nullopt;
      }
    }
    const bool last = i >= n;
    const std::string_view segment = std::string_view(out).substr(mark + 1);
    if (segment == ".") {
      out.resize(mark);
      if (last) out.push_back('/');  // "/a/." -> "/a/"
    } else if (segment == "..") {
      out.resize(mark);
      const auto slash = out.rfind('/');  // drop the previous segment and its '/'
      out.resize(slash == std::string::npos ? 0 : slash);
      if (last) out.push_back('/');  // "/a/b/.." -> "/a/"
    }
  }
  return out;
}

}  // namespace gatehouse::router
