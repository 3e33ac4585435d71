// An independent reference for the router's path normalisation, written from the
// texts rather than from router/normalize.cpp: RFC 3986 section 3.3 (which bytes a path
// holds), 2.3 (unreserved characters), 5.2 (reference resolution, remove_dot_segments
// step by step as 5.2.4 words it), and SPEC section 3 (escapes of unreserved characters
// are decoded first, other escapes stay encoded with upper-case hex, `//` is kept).
// It favours being obviously right over being fast: strings are copied freely.
// Used by the path fuzzer and by tests/unit/router/path_reference_test.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::fuzz::reference {

// RFC 3986 2.3: ALPHA / DIGIT / "-" / "." / "_" / "~"
inline bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

// RFC 3986 2.2: "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
inline bool is_sub_delim(unsigned char c) {
  return std::string_view("!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos;
}

inline int hex_digit(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Step 1 (SPEC 3): the path must be "/" followed by pchars and "/"s (RFC 3986 3.3:
// pchar = unreserved / pct-encoded / sub-delims / ":" / "@"); escapes of unreserved
// characters become the character, every other escape is kept in upper case.
inline std::optional<std::string> decode_unreserved(std::string_view path) {
  if (path.empty() || path[0] != '/') return std::nullopt;
  static constexpr char kUpperHex[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(path[i]);
    if (c == '%') {
      if (i + 2 >= path.size()) return std::nullopt;  // needs two hex digits
      const int hi = hex_digit(static_cast<unsigned char>(path[i + 1]));
      const int lo = hex_digit(static_cast<unsigned char>(path[i + 2]));
      if (hi < 0 || lo < 0) return std::nullopt;
      const unsigned char decoded = static_cast<unsigned char>(hi * 16 + lo);
      if (is_unreserved(decoded)) {
        out += static_cast<char>(decoded);
      } else {
        out += '%';
        out += kUpperHex[hi];
        out += kUpperHex[lo];
      }
      i += 2;
    } else if (c == '/' || c == ':' || c == '@' || is_unreserved(c) || is_sub_delim(c)) {
      out += static_cast<char>(c);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

inline bool starts_with(const std::string& s, std::string_view p) { return s.rfind(p, 0) == 0; }

// "removing the last segment and its preceding "/" (if any) from the output buffer"
inline void remove_last_segment(std::string& output) {
  const std::size_t slash = output.rfind('/');
  output.erase(slash == std::string::npos ? 0 : slash);
}

// RFC 3986 5.2.4, rule by rule.
inline std::string remove_dot_segments(std::string input) {
  std::string output;
  while (!input.empty()) {
    if (starts_with(input, "../")) {                       // A
      input.erase(0, 3);
    } else if (starts_with(input, "./")) {
      input.erase(0, 2);
    } else if (starts_with(input, "/./")) {                // B
      input.replace(0, 3, "/");
    } else if (input == "/.") {
      input = "/";
    } else if (starts_with(input, "/../")) {               // C
      input.replace(0, 4, "/");
      remove_last_segment(output);
    } else if (input == "/..") {
      input = "/";
      remove_last_segment(output);
    } else if (input == "." || input == "..") {            // D
      input.clear();
    } else {                                               // E
      const std::size_t next = input.find('/', input[0] == '/' ? 1 : 0);
      output += input.substr(0, next);
      input.erase(0, next == std::string::npos ? input.size() : next);
    }
  }
  return output;
}

// What the router must produce for a request path (SPEC 3), or nullopt to refuse it.
inline std::optional<std::string> normalize(std::string_view path) {
  auto decoded = decode_unreserved(path);
  if (!decoded) return std::nullopt;
  return remove_dot_segments(std::move(*decoded));
}

// RFC 3986 5.2 reference resolution, for the section 5.4 examples.
struct Uri {
  std::optional<std::string> scheme, authority;
  std::string path;
  std::optional<std::string> query, fragment;
};

// Appendix B: ^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?
inline Uri split_uri(std::string_view s) {
  Uri u;
  const std::size_t colon = s.find(':');
  if (colon != std::string_view::npos && colon > 0 &&
      s.substr(0, colon).find_first_of("/?#") == std::string_view::npos) {
    u.scheme = std::string(s.substr(0, colon));
    s.remove_prefix(colon + 1);
  }
  if (s.substr(0, 2) == "//") {
    const std::size_t end = s.find_first_of("/?#", 2);
    u.authority = std::string(s.substr(2, end == std::string_view::npos ? s.size() - 2 : end - 2));
    s.remove_prefix(end == std::string_view::npos ? s.size() : end);
  }
  const std::size_t path_end = s.find_first_of("?#");
  u.path = std::string(s.substr(0, path_end));
  s.remove_prefix(path_end == std::string_view::npos ? s.size() : path_end);
  if (!s.empty() && s[0] == '?') {
    const std::size_t hash = s.find('#');
    u.query = std::string(s.substr(1, hash == std::string_view::npos ? s.size() - 1 : hash - 1));
    s.remove_prefix(hash == std::string_view::npos ? s.size() : hash);
  }
  if (!s.empty() && s[0] == '#') u.fragment = std::string(s.substr(1));
  return u;
}

// 5.2.3
inline std::string merge(const Uri& base, const std::string& ref_path) {
  if (base.authority && base.path.empty()) return "/" + ref_path;
  const std::size_t slash = base.path.rfind('/');
  return slash == std::string::npos ? ref_path : base.path.substr(0, slash + 1) + ref_path;
}

// 5.3
inline std::string recompose(const Uri& u) {
  std::string out;
  if (u.scheme) out += *u.scheme + ":";
  if (u.authority) out += "//" + *u.authority;
  out += u.path;
  if (u.query) out += "?" + *u.query;
  if (u.fragment) out += "#" + *u.fragment;
  return out;
}

// 5.2.2, strict (a reference with a scheme is never taken as relative).
inline std::string resolve(std::string_view base_text, std::string_view ref_text) {
  const Uri base = split_uri(base_text);
  const Uri r = split_uri(ref_text);
  Uri t;
  if (r.scheme) {
    t.scheme = r.scheme;
    t.authority = r.authority;
    t.path = remove_dot_segments(r.path);
    t.query = r.query;
  } else {
    if (r.authority) {
      t.authority = r.authority;
      t.path = remove_dot_segments(r.path);
      t.query = r.query;
    } else {
      if (r.path.empty()) {
        t.path = base.path;
        t.query = r.query ? r.query : base.query;
      } else {
        t.path = r.path[0] == '/' ? remove_dot_segments(r.path)
                                  : remove_dot_segments(merge(base, r.path));
        t.query = r.query;
      }
      t.authority = base.authority;
    }
    t.scheme = base.scheme;
  }
  t.fragment = r.fragment;
  return recompose(t);
}

struct Example {
  std::string_view reference;
  std::string_view target;
};

// RFC 3986 5.4.1 and 5.4.2, against the base "http://a/b/c/d;p?q".
inline constexpr std::string_view kExampleBase = "http://a/b/c/d;p?q";
inline constexpr Example kExamples[] = {
    {"g:h", "g:h"}, {"g", "http://a/b/c/g"}, {"./g", "http://a/b/c/g"},
    {"g/", "http://a/b/c/g/"}, {"/g", "http://a/g"}, {"//g", "http://g"},
    {"?y", "http://a/b/c/d;p?y"}, {"g?y", "http://a/b/c/g?y"}, {"#s", "http://a/b/c/d;p?q#s"},
    {"g#s", "http://a/b/c/g#s"}, {"g?y#s", "http://a/b/c/g?y#s"}, {";x", "http://a/b/c/;x"},
    {"g;x", "http://a/b/c/g;x"}, {"g;x?y#s", "http://a/b/c/g;x?y#s"}, {"", "http://a/b/c/d;p?q"},
    {".", "http://a/b/c/"}, {"./", "http://a/b/c/"}, {"..", "http://a/b/"},
    {"../", "http://a/b/"}, {"../g", "http://a/b/g"}, {"../..", "http://a/"},
    {"../../", "http://a/"}, {"../../g", "http://a/g"},
    // 5.4.2 abnormal examples
    {"../../../g", "http://a/g"}, {"../../../../g", "http://a/g"}, {"/./g", "http://a/g"},
    {"/../g", "http://a/g"}, {"g.", "http://a/b/c/g."}, {".g", "http://a/b/c/.g"},
    {"g..", "http://a/b/c/g.."}, {"..g", "http://a/b/c/..g"}, {"./../g", "http://a/b/g"},
    {"./g/.", "http://a/b/c/g/"}, {"g/./h", "http://a/b/c/g/h"}, {"g/../h", "http://a/b/c/h"},
    {"g;x=1/./y", "http://a/b/c/g;x=1/y"}, {"g;x=1/../y", "http://a/b/c/y"},
    {"g?y/./x", "http://a/b/c/g?y/./x"}, {"g?y/../x", "http://a/b/c/g?y/../x"},
    {"g#s/./x", "http://a/b/c/g#s/./x"}, {"g#s/../x", "http://a/b/c/g#s/../x"},
    {"http:g", "http:g"},
};

}  // namespace gatehouse::fuzz::reference
