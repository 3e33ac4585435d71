#include "auth/scopes.hpp"

#include <algorithm>

namespace gatehouse::auth {

std::vector<std::string> split_scopes(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t end = std::min(text.find(' ', i), text.size());
    if (end > i) out.emplace_back(text.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

bool extract_scopes(const boost::json::object& claims, std::string_view name,
                    std::vector<std::string>& out) {
  out.clear();
  const auto* v = claims.if_contains(boost::json::string_view(name.data(), name.size()));
  if (!v) return true;
  if (const auto* s = v->if_string()) {
    out = split_scopes(std::string_view(s->data(), s->size()));
    return true;
  }
  if (const auto* a = v->if_array()) {
    for (const auto& item : *a) {
      const auto* s = item.if_string();
      if (!s) {
        out.clear();
        return false;
      }
      if (!s->empty()) out.emplace_back(s->data(), s->size());
    }
    return true;
  }
  return false;
}

bool has_scope(const std::vector<std::string>& granted, std::string_view required) {
  return required.empty() ||
         std::find(granted.begin(), granted.end(), required) != granted.end();
}

std::optional<std::string> first_missing_scope(const std::vector<std::string>& granted,
                                               const std::vector<std::string>& required) {
  for (const auto& r : required) {
    if (!has_scope(granted, r)) return r;
  }
  return std::nullopt;
}

}  // namespace gatehouse::auth
