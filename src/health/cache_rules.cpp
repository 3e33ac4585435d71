#include "health/cache_rules.hpp"

namespace gatehouse::health {

namespace {

bool is_ows(char c) { return c == ' ' || c == '\t'; }

}  // namespace

void parse_cache_control(std::string_view v, CacheControl& out) {
  std::size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && (is_ows(v[i]) || v[i] == ',')) ++i;
    const std::size_t start = i;
    while (i < v.size() && http::is_tchar(static_cast<unsigned char>(v[i]))) ++i;
    const std::string_view name = v.substr(start, i - start);
    while (i < v.size() && is_ows(v[i])) ++i;
    if (i < v.size() && v[i] == '=') {
      ++i;
      while (i < v.size() && is_ows(v[i])) ++i;
      if (i < v.size() && v[i] == '"') {  // quoted-string: commas inside do not split
        ++i;
        while (i < v.size() && v[i] != '"') i += (v[i] == '\\' && i + 1 < v.size()) ? 2 : 1;
        if (i < v.size()) ++i;
      } else {
        while (i < v.size() && v[i] != ',') ++i;
      }
    }
    // Skip anything malformed up to the next comma.
    while (i < v.size() && v[i] != ',') ++i;
    if (http::iequals(name, "public"))
      out.is_public = true;
    else if (http::iequals(name, "private"))
      out.is_private = true;
    else if (http::iequals(name, "no-store"))
      out.no_store = true;
  }
}

bool storable(std::string_view method, bool request_has_credentials, int status,
              const CacheControl& cc, bool response_has_set_cookie) {
  if (method != "GET" && method != "HEAD") return false;
  if (status < 200 || status > 299 || status == 206) return false;
  if (response_has_set_cookie || cc.is_private || cc.no_store) return false;
  if (request_has_credentials && !cc.is_public) return false;
  return true;
}

bool storable(std::string_view method, bool request_has_credentials, int status,
              std::span<const http::Field> fields) {
  CacheControl cc;
  bool set_cookie = false;
  for (const auto& f : fields) {
    if (http::iequals(f.name, "cache-control"))
      parse_cache_control(f.value, cc);
    else if (http::iequals(f.name, "set-cookie"))
      set_cookie = true;
  }
  return storable(method, request_has_credentials, status, cc, set_cookie);
}

bool has_credentials(std::span<const http::Field> fields) {
  for (const auto& f : fields)
    if (http::iequals(f.name, "authorization") || http::iequals(f.name, "cookie")) return true;
  return false;
}

}  // namespace gatehouse::health
