#include "proxy/rewrite.hpp"

#include <charconv>

#include "http/headers.hpp"

namespace gatehouse::proxy {

namespace {

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (http::iequals(name, n)) return true;
  return false;
}

// The fields the gateway sets itself on a rate-limited endpoint's answers.
bool is_rate_limit_field(std::string_view name) {
  return http::iequals(name, "ratelimit-limit") || http::iequals(name, "ratelimit-remaining") ||
         http::iequals(name, "ratelimit-reset");
}

}  // namespace

void upstream_path(std::string_view base_path, std::string_view prefix, std::string_view path,
                   bool strip_prefix, std::string& out) {
  out.assign(base_path);
  std::string_view rest = path;
  if (strip_prefix && prefix != "/") rest.remove_prefix(prefix.size());
  if (rest.empty()) {
    if (out.empty()) out.push_back('/');
    return;
  }
  out.append(rest);
}

void build_upstream_head(const http::RequestHead& req, const ForwardInfo& info, std::string& out) {
  out.clear();
  out.append(req.method);
  out.push_back(' ');
  out.append(info.path);
  if (req.has_query) {
    out.push_back('?');
    out.append(req.query);
  }
  out.append(" HTTP/1.1\r\n");
  append_field(out, "Host", info.host);

  bool has_xff = false;
  bool has_content_length = false;
  for (const auto& f : req.fields) {
    const auto name = f.name;
    if (info.websocket && http::iequals(name, "upgrade")) {
      append_field(out, name, f.value);  // this hop asks for the upgrade too
      continue;
    }
    if (http::is_hop_by_hop(name) || http::named_by_connection(name, req.connection_tokens))
      continue;
    // Never forwarded (as nginx's default): an upstream that folds "_" into "-" would
    // read Transfer_Encoding or Content_Length as framing we did not check.
    if (name.find('_') != std::string_view::npos) continue;
    if (is_one_of(name, {"host", "content-length", "expect", "x-request-id", "x-forwarded-proto",
                         "x-forwarded-host", "x-forwarded-prefix", "x-client-cert-subject"})) {
      if (http::iequals(name, "content-length")) has_content_length = true;
      continue;
    }
    if (http::iequals(name, "x-forwarded-for")) {
      has_xff = true;  // joined below, after the other fields
      continue;
    }
    append_field(out, name, f.value);
  }
  // X-Forwarded-For: every earlier hop, in order, then the client.
  out.append("X-Forwarded-For: ");
  if (has_xff) {
    for (const auto& f : req.fields) {
      if (!http::iequals(f.name, "x-forwarded-for") || f.value.empty()) continue;
      out.append(f.value);
      out.append(", ");
    }
  }
  out.append(info.client_ip);
  out.append("\r\n");
  append_field(out, "X-Forwarded-Proto", info.proto);
  if (!req.host.empty()) append_field(out, "X-Forwarded-Host", req.host);
  append_field(out, "X-Forwarded-Prefix", info.prefix);
  append_field(out, "X-Request-Id", info.request_id);
  if (info.websocket) out.append("Connection: upgrade\r\n");
  if (!info.client_cert_subject.empty())
    append_field(out, "X-Client-Cert-Subject", info.client_cert_subject);
  switch (req.body) {
    case http::BodyKind::length:
      out.append("Content-Length: ");
      append_uint(out, req.content_length);
      out.append("\r\n");
      break;
    case http::BodyKind::chunked:
      out.append("Transfer-Encoding: chunked\r\n");
      break;
    default:
      if (has_content_length) out.append("Content-Length: 0\r\n");
      break;
  }
  out.append("\r\n");
}

void build_client_head(const http::ResponseHead& res, ClientFraming framing,
                       std::string_view request_id, bool close, bool http10_keep_alive,
                       std::string& out, std::string_view extra) {
  out.clear();
  // Our own version, the upstream's status code and reason phrase.
  out.append("HTTP/1.1");
  out.append(res.status_line.substr(8));
  out.append("\r\n");
  const bool keep_length = framing == ClientFraming::none;  // HEAD, 304: metadata only
  for (const auto& f : res.fields) {
    const auto name = f.name;
    if (http::is_hop_by_hop(name) || http::named_by_connection(name, res.connection_tokens))
      continue;
    if (http::iequals(name, "x-request-id")) continue;
    if (http::iequals(name, "content-length") && !keep_length) continue;
    if (!extra.empty() && is_rate_limit_field(name)) continue;
    append_field(out, name, f.value);
  }
  append_field(out, "X-Request-Id", request_id);
  out.append(extra);
  switch (framing) {
    case ClientFraming::length:
      out.append("Content-Length: ");
      append_uint(out, res.content_length);
      out.append("\r\n");
      break;
    case ClientFraming::chunked:
      out.append("Transfer-Encoding: chunked\r\n");
      break;
    default:
      break;
  }
  if (close) out.append("Connection: close\r\n");
  else if (http10_keep_alive) out.append("Connection: keep-alive\r\n");
  out.append("\r\n");
}

void build_switching_head(const http::ResponseHead& res, std::string_view request_id,
                          std::string& out) {
  out.clear();
  out.append("HTTP/1.1");
  out.append(res.status_line.substr(8));
  out.append("\r\n");
  for (const auto& f : res.fields) {
    const auto name = f.name;
    const bool upgrade = http::iequals(name, "upgrade");
    if (!upgrade &&
        (http::is_hop_by_hop(name) || http::named_by_connection(name, res.connection_tokens)))
      continue;
    if (http::iequals(name, "x-request-id") || http::iequals(name, "content-length")) continue;
    append_field(out, name, f.value);
  }
  append_field(out, "X-Request-Id", request_id);
  out.append("Connection: upgrade\r\n\r\n");
}

}  // namespace gatehouse::proxy
