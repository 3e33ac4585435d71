// Reloading a large file without parsing it whole again: the settings around the
// endpoints are parsed (they are small and may read key files), each endpoint whose
// item text is byte-for-byte the one of the running config, in the same surroundings,
// is taken from it (shared where it sits at the same place and line, else copied), and
// only the changed items go through yaml-cpp. Any error, or anything the split cannot
// vouch for, sends the caller to the whole-file parse.
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "config/sections.hpp"
#include "config/share_settings.hpp"
#include "config/source_index.hpp"
#include "config/yaml_documents.hpp"

namespace gatehouse::config::detail {

namespace {

struct DigestHash {
  std::size_t operator()(const SourceIndex::Digest& d) const { return d.lo; }
};

// One item's text parsed on its own, as the whole-file parse would have seen it there.
std::optional<EndpointDraft> parse_item(Context& ctx, std::string_view text, const ItemSpan& item,
                                        std::size_t index, const Config& cfg,
                                        const Defaults& defaults) {
  Documents docs;
  try {
    docs = read_documents(std::string(text));
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
  if (docs.stuck || docs.more || !docs.first.IsSequence() || docs.first.size() != 1)
    return std::nullopt;
  const YAML::Node node = docs.first[0];
  Pos pos = pos_of(node);
  if (node.IsNull() || pos.line == 0) return std::nullopt;
  pos.line += item.line - 1;  // yaml-cpp counted from the item's first line
  return parse_endpoint(ctx, Value{index_path("endpoints", index), node, pos}, index, cfg,
                        defaults);
}

// True when two endpoints share an id, or two enabled ones a prefix. The endpoints taken
// unchanged were distinct endpoints of a valid config, so they cannot clash with each
// other: only the few parsed again (`parsed`) are compared, with everything.
bool clashes(const EndpointList& eps, const std::vector<std::size_t>& parsed) {
  if (parsed.size() > 16) {  // many changed: hash them all rather than compare n x k
    std::unordered_set<std::string_view> ids, prefixes;
    ids.reserve(eps.size());
    prefixes.reserve(eps.size());
    for (const Endpoint& e : eps) {
      if (!ids.insert(e.id).second) return true;
      if (!e.disabled && !prefixes.insert(e.prefix).second) return true;
    }
    return false;
  }
  for (const std::size_t p : parsed) {
    const Endpoint& a = eps[p];
    for (std::size_t i = 0; i < eps.size(); ++i) {
      if (i == p) continue;
      const Endpoint& b = eps[i];
      if (a.id == b.id) return true;
      if (!a.disabled && !b.disabled && a.prefix == b.prefix) return true;
    }
  }
  return false;
}

}  // namespace

bool load_reusing(const std::string& text, const Prescan& scan, const Config& previous,
                  Context& ctx, Config& cfg) {
  const SourceIndex& before = previous.source;
  if (before.items.empty() || before.items.size() != previous.endpoints.size()) return false;
  if (scan.swallowing.open.line > 0) return false;
  const auto split = split_endpoints(text);
  if (!split) return false;
  const SourceIndex::Digest context = context_digest(text, *split, cfg.path);
  if (!(context == before.context)) return false;

  Errors errors;
  Context local{errors, ctx.config_path, {}};
  Config next;
  next.path = cfg.path;
  next.sha256 = cfg.sha256;
  // The settings: the file without its items (`endpoints:` is then empty). Parsed every
  // time: they are small, and a reload must re-read the key files they name.
  const std::string settings = text.substr(0, split->begin) + text.substr(split->end);
  Defaults defaults;
  parse_yaml(settings, Prescan{}, local, next, &defaults);
  if (errors.size() > 0 || !next.endpoints.empty()) return false;

  // Where each item's text was before. Most items are where they were: the same position
  // is tried first, and only the texts no item matched there are indexed for the others.
  // An item whose text is taken already is parsed (the same text twice is a duplicate
  // id, which the check below sends to the whole-file parse).
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  const std::size_t n = split->items.size();
  const std::string_view all(text);
  std::vector<SourceIndex::Digest> digests(n);
  std::vector<std::size_t> from(n, kNone);
  std::vector<bool> taken(before.items.size(), false);
  std::size_t misses = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const ItemSpan& item = split->items[i];
    digests[i] = digest(all.substr(item.begin, item.end - item.begin));
    if (i < before.items.size() && before.items[i].reusable && before.items[i].text == digests[i]) {
      from[i] = i;
      taken[i] = true;
    } else {
      ++misses;
    }
  }
  if (misses > 0) {
    std::unordered_map<SourceIndex::Digest, std::size_t, DigestHash> by_text;
    for (std::size_t j = 0; j < before.items.size(); ++j)
      if (!taken[j] && before.items[j].reusable) by_text.emplace(before.items[j].text, j);
    for (std::size_t i = 0; i < n && !by_text.empty(); ++i) {
      if (from[i] != kNone) continue;
      const auto it = by_text.find(digests[i]);
      if (it == by_text.end()) continue;
      from[i] = it->second;
      by_text.erase(it);
    }
  }

  next.endpoints.reserve(n);
  next.source.items.reserve(n);
  std::vector<std::size_t> parsed;  // positions of the items parsed again
  for (std::size_t i = 0; i < n; ++i) {
    const ItemSpan& item = split->items[i];
    const SourceIndex::Digest& d = digests[i];
    if (const std::size_t j = from[i]; j != kNone) {
      // Valid before, in the same surroundings: valid now, with the same settings. Only
      // where it sits changed; the checks across endpoints run again below.
      const Endpoint& was = previous.endpoints[j];
      const int line = item.line + static_cast<int>(before.items[j].line_offset);
      if (was.index == i && was.line == line) {
        next.endpoints.push_back(previous.endpoints.shared(j));  // a pointer copy
      } else {
        Endpoint moved = was;
        moved.index = i;
        moved.line = line;
        next.endpoints.push_back(std::move(moved));
      }
      next.source.items.push_back({d, before.items[j].line_offset, true,
                                   static_cast<std::uint32_t>(j)});
      continue;
    }
    const std::string_view item_text = all.substr(item.begin, item.end - item.begin);
    const std::size_t warnings = local.warnings.size();
    auto draft = parse_item(local, item_text, item, i, next, defaults);
    if (!draft || errors.size() > 0 || local.warnings.size() != warnings) return false;
    if (!draft->id_ok || !draft->prefix_ok) return false;
    if (!previous.endpoints.empty()) {  // share settings equal to a neighbour's
      SettingsSharer sharer;
      sharer.seed(previous.endpoints[std::min(i, previous.endpoints.size() - 1)]);
      sharer.share(draft->ep);
    }
    next.source.items.push_back({d, static_cast<std::uint32_t>(draft->ep.line - item.line),
                                 !draft->ep.tls->ca_file});
    parsed.push_back(i);
    next.endpoints.push_back(std::move(draft->ep));
  }
  // A clash of ids or prefixes goes to the whole-file parse, which reports it.
  if (clashes(next.endpoints, parsed)) return false;
  next.source.context = context;
  next.source.taken_from_config = previous.serial.value;
  for (auto& w : local.warnings) ctx.warnings.push_back(std::move(w));
  cfg = std::move(next);
  return true;
}

}  // namespace gatehouse::config::detail
