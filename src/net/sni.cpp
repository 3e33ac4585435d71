#include "net/sni.hpp"

namespace gatehouse::net {

namespace {
std::string normalized(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out(name);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}
}  // namespace

void SniTable::add(std::size_t index, const std::vector<std::string>& names) {
  for (const auto& raw : names) {
    std::string name = normalized(raw);
    if (name.starts_with("*.")) {
      if (name.size() > 2) wildcard_.emplace(name.substr(2), index);
    } else if (!name.empty() && name.find('*') == std::string::npos) {
      // Partial wildcards ("a*.example.com") match nothing: browsers refuse them too.
      exact_.emplace(std::move(name), index);
    }
  }
}

std::size_t SniTable::choose(std::string_view server_name) const {
  if (server_name.empty()) return 0;
  const std::string name = normalized(server_name);
  if (const auto it = exact_.find(name); it != exact_.end()) return it->second;
  const auto dot = name.find('.');
  if (dot == std::string::npos || dot == 0) return 0;
  if (const auto it = wildcard_.find(name.substr(dot + 1)); it != wildcard_.end()) return it->second;
  return 0;
}

}  // namespace gatehouse::net
