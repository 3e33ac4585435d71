#include "proxy/rewrite.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <span>

#include "http/headers.hpp"

namespace gatehouse::proxy {

namespace {

// Writes a head into `out` with plain stores into room made once. The room is a bound
// worked out from the parts' sizes; every store still checks it, and a bound that was
// short grows the string (never taken in practice, so never a write past the end).
// Its members are inlined where the head is built, so a literal's copy is a store of
// known size, not a call into the string's append and memcpy.
class HeadWriter {
 public:
  HeadWriter(std::string& out, std::size_t bound) : out_(out) {
    out_.resize(bound);
    p_ = out_.data();
    end_ = p_ + bound;
  }
  ~HeadWriter() { out_.resize(static_cast<std::size_t>(p_ - out_.data())); }
  HeadWriter(const HeadWriter&) = delete;
  HeadWriter& operator=(const HeadWriter&) = delete;

  [[gnu::always_inline]] void put(std::string_view s) {
    if (s.empty()) return;  // an empty view may have no data at all: no memcpy from null
    room(s.size());
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  [[gnu::always_inline]] void put(char c) {
    room(1);
    *p_++ = c;
  }
  [[gnu::always_inline]] void field(std::string_view name, std::string_view value) {
    put(name);
    put(": ");
    put(value);
    put("\r\n");
  }
  void number(std::uint64_t v) {
    room(24);
    p_ = std::to_chars(p_, p_ + 24, v).ptr;
  }

 private:
  [[gnu::always_inline]] void room(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n) [[unlikely]]
      grow(n);
  }
  [[gnu::noinline]] void grow(std::size_t n) {
    const auto used = static_cast<std::size_t>(p_ - out_.data());
    out_.resize(std::max(out_.size() * 2, used + n + 256));
    p_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }

  std::string& out_;
  char* p_;
  char* end_;
};

// The bytes `fields` take in a head: "name: value" and CRLF each.
std::size_t fields_size(std::span<const http::Field> fields) {
  std::size_t n = 0;
  for (const auto& f : fields) n += f.name.size() + f.value.size() + 4;
  return n;
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
  const std::size_t req_fields = fields_size(req.fields);
  // The request line and Host; the client's fields (X-Forwarded-For's among them, once
  // more for the join); our own fields and framing.
  HeadWriter w(out, 256 + req.method.size() + info.path.size() + req.query.size() +
                        info.host.size() + 2 * req_fields + info.client_ip.size() +
                        info.proto.size() + req.host.size() + info.prefix.size() +
                        info.request_id.size() + info.client_cert_subject.size());
  w.put(req.method);
  w.put(' ');
  w.put(info.path);
  if (req.has_query) {
    w.put('?');
    w.put(req.query);
  }
  w.put(" HTTP/1.1\r\n");
  w.field("Host", info.host);

  bool has_xff = false;
  bool has_content_length = false;
  for (const auto& f : req.fields) {
    const auto name = f.name;
    if (info.websocket && http::iequals(name, "upgrade")) {
      w.field(name, f.value);  // this hop asks for the upgrade too
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
    w.field(name, f.value);
  }
  // X-Forwarded-For: every earlier hop, in order, then the client.
  w.put("X-Forwarded-For: ");
  if (has_xff) {
    for (const auto& f : req.fields) {
      if (!http::iequals(f.name, "x-forwarded-for") || f.value.empty()) continue;
      w.put(f.value);
      w.put(", ");
    }
  }
  w.put(info.client_ip);
  w.put("\r\n");
  w.field("X-Forwarded-Proto", info.proto);
  if (!req.host.empty()) w.field("X-Forwarded-Host", req.host);
  w.field("X-Forwarded-Prefix", info.prefix);
  w.field("X-Request-Id", info.request_id);
  if (info.websocket) w.put("Connection: upgrade\r\n");
  if (!info.client_cert_subject.empty())
    w.field("X-Client-Cert-Subject", info.client_cert_subject);
  switch (req.body) {
    case http::BodyKind::length:
      w.put("Content-Length: ");
      w.number(req.content_length);
      w.put("\r\n");
      break;
    case http::BodyKind::chunked:
      w.put("Transfer-Encoding: chunked\r\n");
      break;
    default:
      if (has_content_length) w.put("Content-Length: 0\r\n");
      break;
  }
  w.put("\r\n");
}

void build_client_head(const http::ResponseHead& res, ClientFraming framing,
                       std::string_view request_id, bool close, bool http10_keep_alive,
                       std::string& out, std::string_view extra) {
  out.clear();
  HeadWriter w(out, 160 + res.status_line.size() + fields_size(res.fields) + request_id.size() +
                        extra.size());
  // Our own version, the upstream's status code and reason phrase.
  w.put("HTTP/1.1");
  w.put(res.status_line.substr(8));
  w.put("\r\n");
  const bool keep_length = framing == ClientFraming::none;  // HEAD, 304: metadata only
  for (const auto& f : res.fields) {
    const auto name = f.name;
    if (http::is_hop_by_hop(name) || http::named_by_connection(name, res.connection_tokens))
      continue;
    if (http::iequals(name, "x-request-id")) continue;
    if (http::iequals(name, "content-length") && !keep_length) continue;
    if (!extra.empty() && is_rate_limit_field(name)) continue;
    w.field(name, f.value);
  }
  w.field("X-Request-Id", request_id);
  w.put(extra);
  switch (framing) {
    case ClientFraming::length:
      w.put("Content-Length: ");
      w.number(res.content_length);
      w.put("\r\n");
      break;
    case ClientFraming::chunked:
      w.put("Transfer-Encoding: chunked\r\n");
      break;
    default:
      break;
  }
  if (close) w.put("Connection: close\r\n");
  else if (http10_keep_alive) w.put("Connection: keep-alive\r\n");
  w.put("\r\n");
}

void build_switching_head(const http::ResponseHead& res, std::string_view request_id,
                          std::string& out) {
  out.clear();
  HeadWriter w(out, 160 + res.status_line.size() + fields_size(res.fields) + request_id.size());
  w.put("HTTP/1.1");
  w.put(res.status_line.substr(8));
  w.put("\r\n");
  for (const auto& f : res.fields) {
    const auto name = f.name;
    const bool upgrade = http::iequals(name, "upgrade");
    if (!upgrade &&
        (http::is_hop_by_hop(name) || http::named_by_connection(name, res.connection_tokens)))
      continue;
    if (http::iequals(name, "x-request-id") || http::iequals(name, "content-length")) continue;
    w.field(name, f.value);
  }
  w.field("X-Request-Id", request_id);
  w.put("Connection: upgrade\r\n\r\n");
}

}  // namespace gatehouse::proxy
