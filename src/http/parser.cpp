#include <array>
#include <cstring>

#include "http/authority.hpp"
#include "http/head_syntax.hpp"
#include "http/message.hpp"

namespace gatehouse::http {

using namespace detail;  // the shared head syntax (head_syntax.hpp)


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

}  // namespace gatehouse::http
