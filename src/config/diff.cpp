#include "config/diff.hpp"

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
  std::unordered_map<std::string, const Endpoint*> old_by_id;
  for (const auto& e : before.endpoints) old_by_id.emplace(e.id, &e);
  std::unordered_map<std::string, const Endpoint*> new_by_id;
  for (const auto& e : after.endpoints) new_by_id.emplace(e.id, &e);

  for (const auto& e : after.endpoints) {
    const auto it = old_by_id.find(e.id);
    const Endpoint* old = it == old_by_id.end() ? nullptr : it->second;
    if (e.disabled) {
      d.disabled.push_back(e.id);
      if (!old || !same_endpoint(*old, e)) d.disabled_changed = true;
      continue;
    }
    if (!old || old->disabled) d.added.push_back(e.id);
    else if (same_endpoint(*old, e)) d.unchanged.push_back(e.id);
    else d.updated.push_back(e.id);
  }
  for (const auto& e : before.endpoints) {
    if (new_by_id.count(e.id)) continue;
    // Deleted from the file: removed, disabled or not (SPEC section 7).
    if (e.disabled) d.disabled_changed = true;
    d.removed.push_back(e.id);
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
