#include <array>
#include <cstring>

#include "http/authority.hpp"
#include "http/message.hpp"

namespace gatehouse::http {

namespace {

constexpr std::uint64_t kMaxContentLength = 1ULL << 60;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A field-value byte: VCHAR, obs-text, SP, HTAB. NUL, CR, LF and other controls are not.
bool is_value_byte(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

// A request-target byte: visible ASCII only (no controls, no space, no DEL, no obs-text).
bool is_target_byte(unsigned char c) { return c > 0x20 && c < 0x7f; }

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool parse_content_length(std::string_view v, std::uint64_t& out) {
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
TeVerdict classify_te(std::string_view v, TeVerdict previous, bool seen_before) {
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
std::size_t find_head_end(std::string_view buf) {
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

// Parses the header section lines [begin, end) (each ending CRLF, final empty line
// excluded). Calls on_field(name, value) for each. Returns false on any syntax error.
template <class OnField>
bool parse_fields(std::string_view block, std::size_t max_fields, std::vector<Field>& out,
                  bool& too_many, OnField&& on_field) {
  std::size_t pos = 0;
  while (pos < block.size()) {
    const std::size_t eol = block.find('\r', pos);
    if (eol == std::string_view::npos || eol + 1 >= block.size() || block[eol + 1] != '\n')
      return false;  // bare CR
    std::string_view line = block.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) return false;
    const unsigned char first = static_cast<unsigned char>(line.front());
    if (first == ' ' || first == '\t') return false;  // obs-fold
    std::size_t i = 0;
    while (i < line.size() && is_tchar(static_cast<unsigned char>(line[i]))) ++i;
    if (i == 0 || i >= line.size() || line[i] != ':') return false;  // includes "Name :"
    const std::string_view name = line.substr(0, i);
    std::string_view value = line.substr(i + 1);
    for (char c : value)
      if (!is_value_byte(static_cast<unsigned char>(c))) return false;  // NUL, bare LF, ctl
    value = trim_ows(value);
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
bool parse_connection(std::string_view v, bool& close, bool& keep_alive_token, bool& upgrade,
                      std::vector<std::string_view>& tokens) {
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

}  // namespace

bool is_tchar(unsigned char c) {
  static constexpr auto table = [] {
    std::array<bool, 256> t{};
    for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
    for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
    for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
    return t;
  }();
  return table[c];
}

void RequestHead::clear() {
  head_size = 0;
  method = target = path = query = {};
  has_query = false;
  minor = 1;
  fields.clear();
  body = BodyKind::none;
  content_length = 0;
  host = request_id = api_version = {};
  has_host = false;
  keep_alive = true;
  expect_continue = false;
  upgrade = false;
  connection_upgrade = false;
  upgrade_value = {};
  connection_tokens.clear();
}

void ResponseHead::clear() {
  head_size = 0;
  minor = 1;
  status = 0;
  status_line = {};
  fields.clear();
  body = BodyKind::none;
  content_length = 0;
  keep_alive = true;
  connection_tokens.clear();
}

namespace {

// method SP request-target SP HTTP-version, checked as soon as the line is complete so
// that a broken line (HTTP/0.9 included) is answered at once, not after header_timeout.
// The target must be origin-form or absolute-form http(s); CONNECT is refused as
// unsupported before its authority-form target is looked at.
bool parse_request_line(std::string_view line, RequestHead& out, HeadError& err) {
  err = HeadError::malformed;
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return false;
  out.method = line.substr(0, sp1);
  for (char c : out.method)
    if (!is_tchar(static_cast<unsigned char>(c))) return false;
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (char c : out.target)
    if (!is_target_byte(static_cast<unsigned char>(c))) return false;
  const std::string_view version = line.substr(sp2 + 1);
  if (version == "HTTP/1.1") out.minor = 1;
  else if (version == "HTTP/1.0") out.minor = 0;
  else return false;
  if (out.method == "CONNECT") {
    err = HeadError::connect;
    return false;
  }

  std::string_view path_query = out.target;
  if (path_query.front() != '/') {
    // absolute-form: http(s)://authority[/path][?query]; its path is routed, and the
    // Host field still decides the host (RFC 9112 3.2.2).
    const std::size_t scheme_end = path_query.find("://");
    if (scheme_end == std::string_view::npos ||
        !(iequals(path_query.substr(0, scheme_end), "http") ||
          iequals(path_query.substr(0, scheme_end), "https")))
      return false;  // authority-form, asterisk-form, other schemes, relative paths
    const std::string_view rest = path_query.substr(scheme_end + 3);
    const std::size_t end = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, end);
    if (authority.empty() || !is_valid_authority(authority)) return false;
    if (end == std::string_view::npos) path_query = "/";
    else if (rest[end] == '?') return false;  // "http://h?q": no path to route
    else path_query = rest.substr(end);
  }
  const std::size_t q = path_query.find('?');
  out.path = path_query.substr(0, q);
  if (q != std::string_view::npos) {
    out.has_query = true;
    out.query = path_query.substr(q + 1);
  }
  // A fragment is never sent in a request target.
  if (out.path.find('#') != std::string_view::npos ||
      out.query.find('#') != std::string_view::npos)
    return false;
  err = HeadError::none;
  return true;
}

}  // namespace

ParseStatus parse_request(std::string_view buf, const HeadLimits& limits, RequestHead& out,
                          HeadError& err) {
  err = HeadError::none;
  // Request line first: its own limit (414) is checked even before it is complete.
  const std::size_t lf = buf.find('\n');
  if (lf == std::string_view::npos) {
    if (buf.size() > limits.max_request_line + 1) {
      err = HeadError::uri_too_long;
      return ParseStatus::error;
    }
    if (buf.find('\r') != std::string_view::npos && buf.find('\r') + 1 < buf.size()) {
      err = HeadError::malformed;  // bare CR in the request line
      return ParseStatus::error;
    }
    return ParseStatus::incomplete;
  }
  if (lf == 0 || buf[lf - 1] != '\r') {
    err = HeadError::malformed;  // bare LF
    return ParseStatus::error;
  }
  const std::size_t line_len = lf - 1;
  if (line_len > limits.max_request_line) {
    err = HeadError::uri_too_long;
    return ParseStatus::error;
  }
  out.clear();
  if (!parse_request_line(buf.substr(0, line_len), out, err)) return ParseStatus::error;
  const std::size_t head_end = find_head_end(buf.substr(line_len));
  if (head_end == 0) {
    // Headers not complete yet: refuse early if they are already too large, or if a
    // bare LF shows up (a complete head would never be found).
    if (buf.size() - lf - 1 > limits.max_header_bytes + 2) {
      err = HeadError::headers_too_large;
      return ParseStatus::error;
    }
    for (std::size_t i = lf + 1; i < buf.size(); ++i) {
      const bool bare_lf = buf[i] == '\n' && buf[i - 1] != '\r';
      const bool bare_cr = buf[i - 1] == '\r' && buf[i] != '\n';
      if (bare_lf || bare_cr) {
        err = HeadError::malformed;
        return ParseStatus::error;
      }
    }
    return ParseStatus::incomplete;
  }
  out.head_size = line_len + head_end;
  const std::string_view block = buf.substr(lf + 1, out.head_size - (lf + 1) - 2);
  if (block.size() > limits.max_header_bytes) {
    err = HeadError::headers_too_large;
    return ParseStatus::error;
  }

  bool seen_cl = false, seen_te = false, close = false, ka_token = false;
  TeVerdict te = TeVerdict::chunked;
  bool too_many = false, unknown_te = false;
  const bool fields_ok = parse_fields(
      block, limits.max_headers, out.fields, too_many,
      [&](std::string_view name, std::string_view value) {
        switch (name.size()) {
          case 4:
            if (iequals(name, "host")) {
              if (out.has_host) return false;  // duplicate Host
              if (!is_valid_authority(value)) return false;
              out.has_host = true;
              out.host = value;
            }
            break;
          case 6:
            if (iequals(name, "expect")) {
              if (iequals(value, "100-continue")) out.expect_continue = true;
            }
            break;
          case 7:
            if (iequals(name, "upgrade")) {
              out.upgrade = true;
              if (out.upgrade_value.empty()) out.upgrade_value = value;
            }
            break;
          case 10:
            if (iequals(name, "connection")) {
              if (!parse_connection(value, close, ka_token, out.connection_upgrade,
                                    out.connection_tokens))
                return false;
              if (out.connection_upgrade) out.upgrade = true;
            }
            break;
          case 12:
            if (iequals(name, "x-request-id")) out.request_id = value;
            break;
          case 13:
            if (iequals(name, "x-api-version")) out.api_version = value;
            break;
          case 14:
            if (iequals(name, "content-length")) {
              if (seen_cl) return false;  // duplicates refused, even when equal
              seen_cl = true;
              if (!parse_content_length(value, out.content_length)) return false;
            }
            break;
          case 17:
            if (iequals(name, "transfer-encoding")) {
              te = classify_te(value, te, seen_te);
              seen_te = true;
              if (te == TeVerdict::malformed) return false;
              unknown_te = te == TeVerdict::unknown_coding;
            }
            break;
          default:
            break;
        }
        return true;
      });
  if (!fields_ok) {
    err = too_many ? HeadError::headers_too_large : HeadError::malformed;
    return ParseStatus::error;
  }
  if (seen_cl && seen_te) {
    err = HeadError::malformed;
    return ParseStatus::error;
  }
  if (out.minor == 1 && !out.has_host) {
    err = HeadError::malformed;
    return ParseStatus::error;
  }
  if (seen_te) {
    if (out.minor == 0) {
      err = HeadError::malformed;  // Transfer-Encoding in HTTP/1.0 is not to be trusted
      return ParseStatus::error;
    }
    if (unknown_te) {
      err = HeadError::not_implemented;
      return ParseStatus::error;
    }
    out.body = BodyKind::chunked;
  } else if (seen_cl && out.content_length > 0) {
    out.body = BodyKind::length;
  }
  out.keep_alive = out.minor == 1 ? !close : (ka_token && !close);
  return ParseStatus::done;
}

ParseStatus parse_response(std::string_view buf, std::size_t max_head, bool request_method_head,
                           ResponseHead& out) {
  const std::size_t head_end = find_head_end(buf);
  if (head_end == 0) {
    if (buf.size() > max_head) return ParseStatus::error;
    // A status line must start like one; refuse garbage without waiting for more.
    const std::string_view prefix = buf.substr(0, std::min<std::size_t>(buf.size(), 5));
    if (std::string_view("HTTP/").substr(0, prefix.size()) != prefix) return ParseStatus::error;
    // A bare LF or CR means the head will never end as HTTP/1.1 requires: a broken
    // upstream, answered 502 now rather than 504 at the timeout.
    for (std::size_t i = 0; i < buf.size(); ++i) {
      if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) return ParseStatus::error;
      if (buf[i] == '\r' && i + 1 < buf.size() && buf[i + 1] != '\n') return ParseStatus::error;
    }
    return ParseStatus::incomplete;
  }
  if (head_end > max_head) return ParseStatus::error;
  out.clear();
  out.head_size = head_end;
  const std::size_t eol = buf.find("\r\n");
  const std::string_view line = buf.substr(0, eol);
  // HTTP/1.x SP 3DIGIT SP reason
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || (line[7] != '0' && line[7] != '1') ||
      line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
      (line.size() > 12 && line[12] != ' '))
    return ParseStatus::error;
  for (char c : line)
    if (!is_value_byte(static_cast<unsigned char>(c))) return ParseStatus::error;
  out.minor = line[7] - '0';
  out.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (out.status < 100 || out.status > 599) return ParseStatus::error;
  out.status_line = line;

  const std::string_view block = buf.substr(eol + 2, head_end - (eol + 2) - 2);
  bool seen_cl = false, seen_te = false, close = false, ka_token = false, upgrade = false;
  TeVerdict te = TeVerdict::chunked;
  bool too_many = false;
  const bool ok = parse_fields(block, 1000, out.fields, too_many,
                               [&](std::string_view name, std::string_view value) {
    if (name.size() == 14 && iequals(name, "content-length")) {
      std::uint64_t n = 0;
      if (!parse_content_length(value, n)) return false;
      if (seen_cl && n != out.content_length) return false;
      seen_cl = true;
      out.content_length = n;
    } else if (name.size() == 17 && iequals(name, "transfer-encoding")) {
      te = classify_te(value, te, seen_te);
      seen_te = true;
      if (te != TeVerdict::chunked) return false;
    } else if (name.size() == 10 && iequals(name, "connection")) {
      if (!parse_connection(value, close, ka_token, upgrade, out.connection_tokens)) return false;
    }
    return true;
  });
  if (!ok) return ParseStatus::error;
  if (seen_cl && seen_te) return ParseStatus::error;
  out.keep_alive = out.minor == 1 ? !close : (ka_token && !close);
  if (request_method_head || out.status < 200 || out.status == 204 || out.status == 304) {
    out.body = BodyKind::none;
  } else if (seen_te) {
    out.body = BodyKind::chunked;
  } else if (seen_cl) {
    out.body = out.content_length > 0 ? BodyKind::length : BodyKind::none;
  } else {
    out.body = BodyKind::until_close;
    out.keep_alive = false;
  }
  return ParseStatus::done;
}

}  // namespace gatehouse::http
