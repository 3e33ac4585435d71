#include "config/diff.hpp"

#include <string_view>
#include <tuple>
#include <unordered_map>

namespace gatehouse::config {

namespace {
// Effective values only: an explicit prefix equal to the default one is no change.
auto effective(const Endpoint& e) {
  return std::tie(e.url, e.name, e.version, e.id, e.methods, e.auth_type, e.disabled, e.prefix,
                  e.strip_prefix, e.preserve_host, e.websocket, e.scopes, e.connect_timeout,
                  e.timeout, e.max_body, e.tls, e.health_check, e.circuit_breaker, e.fallback,
                  e.cache, e.servers, e.load_balancing, e.hash_key, e.retries, e.rate_limit);
}
}  // namespace

bool same_endpoint(const Endpoint& a, const Endpoint& b) { return effective(a) == effective(b); }

ConfigDiff diff(const Config& before, const Config& after) {
  ConfigDiff d;
  // Most reloads keep every endpoint where it was: match by position first, and index
  // the ids only for the endpoints that moved (a map of 100,000 ids costs more than the
  // rest of the diff).
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::unordered_map<std::string_view, std::size_t> old_by_id;
  auto old_of = [&](std::size_t i, const Endpoint& e) -> std::size_t {
    if (i < before.endpoints.size() && before.endpoints[i].id == e.id) return i;
    if (old_by_id.empty())
      for (std::size_t j = 0; j < before.endpoints.size(); ++j)
        old_by_id.emplace(before.endpoints[j].id, j);
    const auto it = old_by_id.find(e.id);
    return it == old_by_id.end() ? kNone : it->second;
  };
  std::size_t in_place = 0;  // endpoints of `after` found at their position in `before`
  for (std::size_t i = 0; i < after.endpoints.size(); ++i) {
    const Endpoint& e = after.endpoints[i];
    const std::size_t j = old_of(i, e);
    const Endpoint* old = j == kNone ? nullptr : &before.endpoints[j];
    if (j == i) ++in_place;
    // The same object (shared by a reload or a copy) or taken unchanged: no comparison.
    const bool same = old && (before.endpoints.shared(j) == after.endpoints.shared(i) ||
                              taken_unchanged(before, j, after, i) || same_endpoint(*old, e));
    if (e.disabled) {
      d.disabled.push_back(e.id);
      if (!same) d.disabled_changed = true;
      continue;
    }
    if (!old || old->disabled) d.added.push_back(e.id);
    else if (same) d.unchanged.push_back(e.id);
    else d.updated.push_back(e.id);
  }
  // Ids are unique in a valid config: when every old endpoint was found in place, none
  // was deleted.
  if (in_place != before.endpoints.size()) {
    std::unordered_map<std::string_view, bool> new_ids;
    new_ids.reserve(after.endpoints.size());
    for (const auto& e : after.endpoints) new_ids.emplace(e.id, true);
    for (const auto& e : before.endpoints) {
      if (new_ids.count(e.id)) continue;
      // Deleted from the file: removed, disabled or not (SPEC section 7).
      if (e.disabled) d.disabled_changed = true;
      d.removed.push_back(e.id);
    }
  }
  if (before.listen != after.listen) d.restart_required.push_back("listen");
  if (before.threads != after.threads) d.restart_required.push_back("threads");
  d.globals_changed = !(before.log == after.log && before.limits == after.limits &&
                        before.auth == after.auth && before.shutdown_grace == after.shutdown_grace &&
                        before.watch == after.watch && before.tls == after.tls &&
                        before.redis == after.redis);
  return d;
}

}  // namespace gatehouse::config
