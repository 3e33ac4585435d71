// The response head parser (the upstream's answers), as strict as the request's.
#include "http/head_syntax.hpp"
#include "http/message.hpp"

namespace gatehouse::http {

using namespace detail;  // the shared head syntax (head_syntax.hpp)

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
