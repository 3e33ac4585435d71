// Reloading a large file without parsing it whole again: the settings around the
// endpoints are parsed (they are small and may read key files), each endpoint whose
// item text is byte-for-byte the one of the running config, in the same surroundings,
// is copied from it, and only the changed items go through yaml-cpp. Any error, or
// anything the split cannot vouch for, sends the caller to the whole-file parse.
#include <unordered_map>

#include "config/sections.hpp"
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

  std::unordered_map<SourceIndex::Digest, std::size_t, DigestHash> by_text;
  by_text.reserve(before.items.size());
  for (std::size_t i = 0; i < before.items.size(); ++i)
    if (before.items[i].reusable) by_text.emplace(before.items[i].text, i);

  std::vector<EndpointDraft> drafts;
  drafts.reserve(split->items.size());
  next.source.items.reserve(split->items.size());
  const std::string_view all(text);
  for (std::size_t i = 0; i < split->items.size(); ++i) {
    const ItemSpan& item = split->items[i];
    const std::string_view item_text = all.substr(item.begin, item.end - item.begin);
    const SourceIndex::Digest d = digest(item_text);
    if (const auto it = by_text.find(d); it != by_text.end()) {
      // Valid before, in the same surroundings: valid now, with the same settings. Only
      // where it sits changed; the checks across endpoints run again below.
      EndpointDraft& draft = drafts.emplace_back();
      draft.ep = previous.endpoints[it->second];
      draft.ep.index = i;
      draft.ep.line = item.line + static_cast<int>(before.items[it->second].line_offset);
      draft.id_ok = true;
      draft.prefix_ok = true;
      next.source.items.push_back({d, before.items[it->second].line_offset, true,
                                   static_cast<std::uint32_t>(it->second)});
      continue;
    }
    const std::size_t warnings = local.warnings.size();
    auto draft = parse_item(local, item_text, item, i, next, defaults);
    if (!draft || errors.size() > 0 || local.warnings.size() != warnings) return false;
    next.source.items.push_back({d, static_cast<std::uint32_t>(draft->ep.line - item.line),
                                 !draft->ep.tls.ca_file});
    drafts.push_back(std::move(*draft));
  }
  validate_endpoints(local, drafts);
  if (errors.size() > 0) return false;
  next.endpoints.reserve(drafts.size());
  for (auto& d : drafts) next.endpoints.push_back(std::move(d.ep));
  next.source.context = context;
  next.source.taken_from_config = previous.serial.value;
  for (auto& w : local.warnings) ctx.warnings.push_back(std::move(w));
  cfg = std::move(next);
  return true;
}

}  // namespace gatehouse::config::detail
