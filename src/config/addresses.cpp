#include "config/addresses.hpp"

#include <arpa/inet.h>

#include <array>
#include <boost/url/parse.hpp>
#include <cctype>

namespace gatehouse::config::detail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_unreserved(char c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
bool is_sub_delim(char c) { return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos; }
int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_port(std::string_view text, std::uint16_t& port) {
  if (text.empty() || text.size() > 5) return false;
  unsigned value = 0;
  for (char c : text) {
    if (!is_digit(c)) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value < 1 || value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

bool has_dot_segment(std::string_view path) {
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const auto seg = path.substr(start, end - start);
    if (seg == "." || seg == "..") return true;
    start = end + 1;
  }
  return false;
}

constexpr std::array<std::string_view, 5> kReserved = {"/endpoints", "/metrics", "/healthz",
                                                      "/readyz", "/dashboard"};

}  // namespace

bool has_space_or_control(std::string_view text) {
  for (unsigned char c : text) {
    if (c <= 0x20 || c == 0x7f) return true;
  }
  return false;
}

bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_alpha(c) && !is_digit(c) &&
        std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string parse_listen(std::string_view text, std::string& host, std::uint16_t& port) {
  std::string_view host_part;
  std::string_view port_part;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return "has an unclosed '[' in the IPv6 address";
    host_part = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return "must be host:port or [ipv6]:port (e.g. \"0.0.0.0:8080\", \"[::]:8080\")";
    }
    port_part = rest.substr(1);
    in6_addr addr{};
    if (::inet_pton(AF_INET6, std::string(host_part).c_str(), &addr) != 1) {
      return "has an invalid IPv6 address";
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return "must be host:port or [ipv6]:port (e.g. \"0.0.0.0:8080\", \"[::]:8080\")";
    }
    host_part = text.substr(0, colon);
    port_part = text.substr(colon + 1);
    if (host_part.find(':') != std::string_view::npos) {
      return "an IPv6 address must be written in brackets, e.g. \"[::]:8080\"";
    }
    if (host_part.empty()) return "must name a host, e.g. \"0.0.0.0:8080\"";
    bool numeric = true;
    for (char c : host_part) {
      if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '-') {
        return "has an invalid host";
      }
      if (!is_digit(c) && c != '.') numeric = false;
    }
    in_addr addr{};
    if (numeric && ::inet_pton(AF_INET, std::string(host_part).c_str(), &addr) != 1) {
      return "has an invalid IPv4 address";
    }
  }
  if (!parse_port(port_part, port)) return "port must be from 1 to 65535";
  host = std::string(host_part);
  return {};
}

std::string parse_upstream_url(std::string_view text, UpstreamUrl& out) {
  constexpr std::string_view kNotUrl = "must be an http:// or https:// URL";
  auto parsed = boost::urls::parse_uri(boost::core::string_view(text.data(), text.size()));
  if (!parsed) return std::string(kNotUrl);
  const auto& u = *parsed;
  std::string scheme(u.scheme());
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") return std::string(kNotUrl);
  if (!u.has_authority()) return std::string(kNotUrl);
  if (u.has_userinfo()) return "must not carry userinfo (credentials belong in headers)";
  if (u.has_query()) return "must not carry a query";
  if (u.has_fragment()) return "must not carry a fragment";

  UpstreamUrl url;
  url.text = std::string(text);
  url.https = scheme == "https";
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      url.host = std::string(u.host_address());
      break;
    case boost::urls::host_type::name: {
      const std::string_view host(u.encoded_host_address().data(), u.encoded_host_address().size());
      if (host.find('%') != std::string_view::npos) return "host must not be percent-encoded";
      url.host = std::string(host);
      break;
    }
    default:
      return "has an unsupported host";
  }
  if (url.host.empty()) return "must have a host";
  if (u.has_port()) {
    const std::string_view port(u.port().data(), u.port().size());
    if (!parse_port(port, url.port)) return "port must be from 1 to 65535";
    url.port_explicit = true;
  } else {
    url.port = url.https ? 443 : 80;
  }
  std::string path(u.encoded_path());
  if (has_dot_segment(path)) return "path must not contain \".\" or \"..\" segments";
  while (!path.empty() && path.back() == '/') path.pop_back();
  url.base_path = std::move(path);
  out = std::move(url);
  return {};
}

std::string normalize_prefix(std::string_view text, std::string& out) {
  if (text.empty() || text.front() != '/') return "must start with '/'";
  std::string norm;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '?' || c == '#' || has_space_or_control(std::string_view(&c, 1))) {
      return "must not contain '?', '#', whitespace or control characters";
    }
    if (c == '%') {
      if (i + 2 >= text.size()) return "has a malformed percent-escape";
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return "has a malformed percent-escape";
      const char decoded = static_cast<char>(hi * 16 + lo);
      if (is_unreserved(decoded)) {
        norm += decoded;
      } else {
        static constexpr char kHex[] = "0123456789ABCDEF";
        norm += '%';
        norm += kHex[hi];
        norm += kHex[lo];
      }
      i += 2;
      continue;
    }
    if (!is_unreserved(c) && !is_sub_delim(c) && c != ':' && c != '@' && c != '/') {
      return std::string("must not contain '") + c + "' (not allowed in a URL path)";
    }
    norm += c;
  }
  if (norm.size() > 1 && norm.back() == '/') return "must not end with '/'";
  if (norm.find("//") != std::string::npos) return "must not contain an empty segment (\"//\")";
  if (has_dot_segment(norm)) return "must not contain \".\" or \"..\" segments";
  out = std::move(norm);
  return {};
}

std::string_view reserved_path_of(std::string_view prefix) {
  for (auto r : kReserved) {
    if (prefix.size() >= r.size() && prefix.substr(0, r.size()) == r &&
        (prefix.size() == r.size() || prefix[r.size()] == '/')) {
      return r;
    }
  }
  return {};
}

}  // namespace gatehouse::config::detail
