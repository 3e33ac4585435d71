#include "http/authority.hpp"

#include <arpa/inet.h>

#include <array>
#include <string>

namespace gatehouse::http {

namespace {

bool is_hex(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

bool is_sub_delim(unsigned char c) {
  switch (c) {
    case '!': case '$': case '&': case '\'': case '(': case ')':
    case '*': case '+': case ',': case ';': case '=':
      return true;
    default:
      return false;
  }
}

// reg-name = *( unreserved / pct-encoded / sub-delims ). An IPv4 address is a reg-name
// by this grammar too, so it needs no branch of its own.
bool is_reg_name(std::string_view v) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c == '%') {
      if (i + 2 >= v.size()) return false;
      if (!is_hex(static_cast<unsigned char>(v[i + 1])) ||
          !is_hex(static_cast<unsigned char>(v[i + 2])))
        return false;
      i += 2;
      continue;
    }
    if (!is_unreserved(c) && !is_sub_delim(c)) return false;
  }
  return true;
}

// IP-literal = "[" ( IPv6address / IPvFuture ) "]", given without the brackets.
bool is_ip_literal(std::string_view v) {
  if (v.empty()) return false;
  if (v.front() == 'v' || v.front() == 'V') {
    // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
    std::size_t i = 1;
    while (i < v.size() && is_hex(static_cast<unsigned char>(v[i]))) ++i;
    if (i == 1 || i >= v.size() || v[i] != '.' || i + 1 >= v.size()) return false;
    for (++i; i < v.size(); ++i) {
      const auto c = static_cast<unsigned char>(v[i]);
      if (!is_unreserved(c) && !is_sub_delim(c) && c != ':') return false;
    }
    return true;
  }
  if (v.size() > 45) return false;  // the longest textual IPv6 address
  for (char c : v)
    if (!is_hex(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  std::array<char, 46> text{};
  v.copy(text.data(), v.size());
  unsigned char addr[16];
  return ::inet_pton(AF_INET6, text.data(), addr) == 1;
}

bool is_port(std::string_view v) {
  if (v.size() > 5) return false;
  unsigned n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  return n <= 65535;
}

}  // namespace

bool is_valid_authority(std::string_view v) {
  std::string_view host = v;
  std::string_view port;
  bool has_port = false;
  if (!v.empty() && v.front() == '[') {
    const std::size_t close = v.find(']');
    if (close == std::string_view::npos) return false;
    if (!is_ip_literal(v.substr(1, close - 1))) return false;
    const std::string_view rest = v.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    return is_port(rest.substr(1));
  }
  const std::size_t colon = v.rfind(':');
  if (colon != std::string_view::npos) {
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
    has_port = true;
  }
  if (!is_reg_name(host)) return false;
  return !has_port || is_port(port);
}

}  // namespace gatehouse::http
