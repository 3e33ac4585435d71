#include "balance/request_key.hpp"

namespace gatehouse::balance {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::string_view> non_empty(std::optional<std::string_view> v) {
  if (v && v->empty()) return std::nullopt;
  return v;
}

}  // namespace

// RFC 6265 5.4: "name=value" pairs separated by ";" and a space; browsers and clients
// vary in the spacing, so both sides of each pair are trimmed.
std::optional<std::string_view> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const std::size_t semi = header.find(';');
    const std::string_view pair = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (trim(pair.substr(0, eq)) == name) return trim(pair.substr(eq + 1));
  }
  return std::nullopt;
}

std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = param.find('=');
    if (param.substr(0, eq) != name) continue;
    return eq == std::string_view::npos ? std::string_view{} : param.substr(eq + 1);
  }
  return std::nullopt;
}

std::optional<std::string_view> request_key(const config::HashKey& key,
                                            const http::RequestHead& head,
                                            std::string_view client_ip) {
  using Source = config::HashKey::Source;
  switch (key.source) {
    case Source::none: return std::nullopt;
    case Source::client_ip: return non_empty(client_ip);
    case Source::query: return head.has_query ? non_empty(query_value(head.query, key.name))
                                              : std::nullopt;
    case Source::header:
      for (const http::Field& f : head.fields) {
        if (http::iequals(f.name, key.name)) return non_empty(f.value);
      }
      return std::nullopt;
    case Source::cookie:
      for (const http::Field& f : head.fields) {
        if (!http::iequals(f.name, "cookie")) continue;
        if (auto v = cookie_value(f.value, key.name)) return non_empty(v);
      }
      return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace gatehouse::balance
