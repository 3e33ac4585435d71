#include "router/route_table.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>
#include <utility>

#include "router/normalize.hpp"

namespace gatehouse::router {
namespace {

constexpr std::uint32_t kNone = UINT32_MAX;
constexpr std::uint32_t kRoot = 0;

// A trie edge: (parent node, one path segment). All edges of all nodes live in one
// hash map, so a lookup costs one hash of the segment whatever the table's size, and
// a node costs no container of its own.
struct EdgeKey {
  std::uint32_t parent;
  std::string_view segment;
  bool operator==(const EdgeKey&) const = default;
};

struct EdgeHash {
  std::size_t operator()(const EdgeKey& k) const noexcept {
    const std::size_t h = std::hash<std::string_view>{}(k.segment);
    return h ^ (std::size_t{k.parent} * 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2));
  }
};

// "/users/v1/" -> "/users/v1": a trailing '/' on a configured prefix is ignored, so the
// prefix still matches by whole segments ("/users/v1" itself and "/users/v1/...").
// The prefix is normalised like a request path so it compares equal to one; a prefix
// that cannot be normalised could never match a normalised path and is not registered.
std::optional<std::string> prefix_key(std::string_view prefix) {
  auto key = normalize_path(prefix);
  if (!key) return std::nullopt;
  const std::size_t n = key->size();
  if (n > 1 && (*key)[n - 1] == '/' && (*key)[n - 2] != '/') key->pop_back();
  return key;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

struct RouteTable::Impl {
  // What a request finally goes to: one enabled endpoint.
  struct Target {
    std::size_t endpoint = 0;          // index into the constructor's vector
    std::vector<std::string> methods;  // empty = every method
    std::string allow;                 // Allow header value when methods is non-empty
  };

  // The bare "/{name}" route: candidates sorted by version bytes for exact lookup.
  struct VersionRoute {
    std::vector<std::pair<std::string, std::uint32_t>> by_version;  // -> target
    std::uint32_t newest = kNone;                                   // target
    std::string name;
    std::string available;  // "v1, v2": every version, in natural order
  };

  struct Entry {
    std::string_view prefix;  // into text_
    bool version_route = false;
    std::uint32_t index = 0;  // into targets_ or version_routes_
  };

  std::deque<std::string> text_;  // owns every prefix; a deque never moves its elements
  std::vector<Target> targets_;
  std::vector<VersionRoute> version_routes_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> node_entry_{kNone};  // node -> entry; node 0 is "/"
  std::unordered_map<EdgeKey, std::uint32_t, EdgeHash> edges_;

  // Returns the node for `key` (stable storage, normalised, starts with '/').
  std::uint32_t insert_node(std::string_view key) {
    std::uint32_t node = kRoot;
    if (key == "/") return node;
    std::size_t pos = 1;
    for (;;) {
      const std::size_t end = key.find('/', pos);
      const std::string_view seg =
          key.substr(pos, end == key.npos ? key.npos : end - pos);
      const auto [it, added] = edges_.try_emplace(
          EdgeKey{node, seg}, static_cast<std::uint32_t>(node_entry_.size()));
      if (added) node_entry_.push_back(kNone);
      node = it->second;
      if (end == key.npos) return node;
      pos = end + 1;
    }
  }

  // Registers `key` unless its node already has an entry (first one wins; the config
  // loader rejects two enabled endpoints with one prefix).
  bool add_entry(std::string key, bool version_route, std::uint32_t index) {
    const std::string_view stored = text_.emplace_back(std::move(key));
    const std::uint32_t node = insert_node(stored);
    if (node_entry_[node] != kNone) return false;
    node_entry_[node] = static_cast<std::uint32_t>(entries_.size());
    entries_.push_back(Entry{stored, version_route, index});
    return true;
  }

  bool node_has_entry(std::string_view key) {
    std::uint32_t node = kRoot;
    if (key != "/") {
      std::size_t pos = 1;
      for (;;) {
        const std::size_t end = key.find('/', pos);
        const auto it = edges_.find(
            EdgeKey{node, key.substr(pos, end == key.npos ? key.npos : end - pos)});
        if (it == edges_.end()) return false;
        node = it->second;
        if (end == key.npos) break;
        pos = end + 1;
      }
    }
    return node_entry_[node] != kNone;
  }

  static Target make_target(std::size_t index, const config::Endpoint& ep) {
    Target t;
    t.endpoint = index;
    for (const auto& m : ep.methods) {
      if (!contains(t.methods, m)) t.methods.push_back(m);
    }
    // "GET, HEAD, POST": HEAD is allowed wherever GET is, so it is listed after GET.
    const bool add_head = contains(t.methods, "GET") && !contains(t.methods, "HEAD");
    for (const auto& m : t.methods) {
      if (!t.allow.empty()) t.allow += ", ";
      t.allow += m;
      if (add_head && m == "GET") t.allow += ", HEAD";
    }
    return t;
  }

  static bool method_allowed(const Target& t, std::string_view method) {
    if (t.methods.empty()) return true;
    for (const auto& m : t.methods) {
      if (m == method || (m == "GET" && method == "HEAD")) return true;
    }
    return false;
  }
};

RouteTable::RouteTable(const config::EndpointList& endpoints)
    : impl_(std::make_unique<Impl>()) {
  Impl& im = *impl_;
  im.targets_.reserve(endpoints.size());
  im.edges_.reserve(endpoints.size() * 2);

  // Names with at least one enabled, versioned endpoint, in first-seen order.
  std::vector<std::string_view> names;
  std::unordered_map<std::string_view, std::vector<std::uint32_t>> versions_of;

  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    const config::Endpoint& ep = endpoints[i];
    if (ep.disabled) continue;
    const auto target = static_cast<std::uint32_t>(im.targets_.size());
    im.targets_.push_back(Impl::make_target(i, ep));
    if (auto key = prefix_key(ep.prefix)) im.add_entry(std::move(*key), false, target);
    if (!ep.name.empty() && !ep.version.empty()) {
      auto& list = versions_of[ep.name];
      if (list.empty()) names.push_back(ep.name);
      list.push_back(target);
    }
  }

  // Version routes go in after every endpoint, so an endpoint that owns "/{name}"
  // itself always keeps it.
  for (const std::string_view name : names) {
    std::string bare = "/";  // appended: "/" + std::string&& trips g++ 12's -Wrestrict
    bare += name;
    auto key = prefix_key(bare);
    if (!key || im.node_has_entry(*key)) continue;

    Impl::VersionRoute route;
    for (const std::uint32_t t : versions_of[name]) {
      const std::string& version = endpoints[im.targets_[t].endpoint].version;
      route.by_version.emplace_back(version, t);
      if (route.newest == kNone ||
          compare_versions(version,
                           endpoints[im.targets_[route.newest].endpoint].version) > 0) {
        route.newest = t;
      }
    }
    route.name = std::string(name);
    {
      std::vector<std::string_view> natural;
      for (const auto& [version, t] : route.by_version) natural.push_back(version);
      std::stable_sort(natural.begin(), natural.end(), [](std::string_view a, std::string_view b) {
        return compare_versions(a, b) < 0;
      });
      for (const auto v : natural) {
        if (!route.available.empty()) route.available.append(", ");
        route.available.append(v);
      }
    }
    // Sorted by bytes for exact X-API-Version lookup; a repeated version keeps the
    // first endpoint (the loader rejects repeated ids anyway).
    std::stable_sort(route.by_version.begin(), route.by_version.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    route.by_version.erase(
        std::unique(route.by_version.begin(), route.by_version.end(),
                    [](const auto& a, const auto& b) { return a.first == b.first; }),
        route.by_version.end());

    const auto index = static_cast<std::uint32_t>(im.version_routes_.size());
    im.version_routes_.push_back(std::move(route));
    im.add_entry(std::move(*key), true, index);
  }
}

RouteTable::~RouteTable() = default;

RouteMatch RouteTable::match(std::string_view method, std::string_view path,
                             std::string_view api_version) const {
  const Impl& im = *impl_;
  RouteMatch result;
  if (path.empty() || path.front() != '/') return result;

  // Walk the trie one segment at a time, remembering the deepest node with an entry.
  std::uint32_t best = im.node_entry_[kRoot];
  std::uint32_t node = kRoot;
  std::size_t pos = 1;
  for (;;) {
    const std::size_t end = path.find('/', pos);
    const std::string_view seg =
        path.substr(pos, end == path.npos ? path.npos : end - pos);
    const auto it = im.edges_.find(EdgeKey{node, seg});
    if (it == im.edges_.end()) break;
    node = it->second;
    if (im.node_entry_[node] != kNone) best = im.node_entry_[node];
    if (end == path.npos) break;
    pos = end + 1;
  }
  if (best == kNone) return result;

  const Impl::Entry& entry = im.entries_[best];
  std::uint32_t target = entry.index;
  if (entry.version_route) {
    const Impl::VersionRoute& route = im.version_routes_[entry.index];
    if (api_version.empty()) {
      target = route.newest;
    } else {
      const auto it =
          std::lower_bound(route.by_version.begin(), route.by_version.end(),
                           api_version, [](const auto& candidate, std::string_view v) {
                             return candidate.first < v;
                           });
      if (it == route.by_version.end() || it->first != api_version) {
        result.kind = RouteMatch::Kind::unknown_version;
        result.name = route.name;
        result.versions = route.available;
        return result;
      }
      target = it->second;
    }
  }

  const Impl::Target& t = im.targets_[target];
  result.endpoint = t.endpoint;
  result.matched_prefix = entry.prefix;
  if (Impl::method_allowed(t, method)) {
    result.kind = RouteMatch::Kind::found;
  } else {
    result.kind = RouteMatch::Kind::method_not_allowed;
    result.allow = t.allow;
  }
  return result;
}

std::size_t RouteTable::size() const { return impl_->entries_.size(); }

std::vector<RouteInfo> RouteTable::routes() const {
  const Impl& im = *impl_;
  std::vector<RouteInfo> out;
  out.reserve(im.entries_.size());
  for (const Impl::Entry& entry : im.entries_) {
    RouteInfo info;
    info.prefix = std::string(entry.prefix);
    info.version_route = entry.version_route;
    if (!entry.version_route) {
      info.endpoints.push_back(im.targets_[entry.index].endpoint);
    } else {
      const Impl::VersionRoute& route = im.version_routes_[entry.index];
      info.endpoints.push_back(im.targets_[route.newest].endpoint);
      for (const auto& [version, target] : route.by_version) {
        if (target != route.newest) info.endpoints.push_back(im.targets_[target].endpoint);
      }
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(),
            [](const RouteInfo& a, const RouteInfo& b) { return a.prefix < b.prefix; });
  return out;
}

}  // namespace gatehouse::router
