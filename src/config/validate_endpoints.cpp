// Checks across endpoints: unique ids (all endpoints) and unique effective prefixes
// (enabled endpoints). The later of two is the one reported.
#include <string_view>
#include <unordered_map>

#include "config/sections.hpp"

namespace gatehouse::config::detail {

void validate_endpoints(Context& ctx, const std::vector<EndpointDraft>& drafts) {
  // Views into the drafts, hashed: no copy of 100,000 ids and prefixes per reload.
  std::unordered_map<std::string_view, const EndpointDraft*> ids;
  std::unordered_map<std::string_view, const EndpointDraft*> prefixes;
  ids.reserve(drafts.size());
  prefixes.reserve(drafts.size());
  for (const auto& d : drafts) {
    bool duplicate_id = false;
    if (d.id_ok) {
      auto [it, inserted] = ids.emplace(std::string_view(d.ep.id), &d);
      if (!inserted) {
        duplicate_id = true;
        ctx.errors.add(d.id_path, d.id_pos,
                       "duplicate endpoint id " + quoted(d.ep.id) + " (first at line " +
                           std::to_string(it->second->id_pos.line) + ")");
      }
    }
    if (!d.prefix_ok || d.ep.disabled) continue;
    auto [it, inserted] = prefixes.emplace(std::string_view(d.ep.prefix), &d);
    // The same id already explains a shared default prefix.
    if (!inserted && !duplicate_id) {
      const EndpointDraft& first = *it->second;
      ctx.errors.add(d.prefix_path, d.prefix_pos,
                     "prefix " + quoted(d.ep.prefix) + " is already used by endpoint " +
                         quoted(first.ep.id) + " (line " + std::to_string(first.ep.line) +
                         "); two enabled endpoints may not share a prefix");
    }
  }
}

}  // namespace gatehouse::config::detail
