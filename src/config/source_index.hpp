// config/: where each endpoint's text lies in the file, found without a YAML parser, so
// that a reload hands yaml-cpp only the endpoints whose text changed (parsing 100,000
// endpoints takes yaml-cpp about 1.5 s). Internal to config/.
//
// The split is deliberately narrow: a top-level `endpoints:` key written plainly at
// column 0 with a block sequence under it, every item starting with `- ` at one
// indentation. Anything else (flow style, anchors or aliases, several documents, tabs in
// the indentation, a quoted scalar running over lines that look like keys) gives no
// split, and the whole file is parsed as before.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace gatehouse::config::detail {

struct ItemSpan {
  std::size_t begin = 0;  // byte offsets of the item's lines, comments included
  std::size_t end = 0;
  int line = 0;           // 1-based line of its `-`
};

struct EndpointSplit {
  std::size_t begin = 0;  // the first item's line
  std::size_t end = 0;    // the first byte after the last item (a top-level key or EOF)
  std::vector<ItemSpan> items;
};

std::optional<EndpointSplit> split_endpoints(std::string_view text);

SourceIndex::Digest digest(std::string_view bytes);
// Everything around the items (the settings and defaults every endpoint depends on) and
// the file's path, which relative paths depend on.
SourceIndex::Digest context_digest(std::string_view text, const EndpointSplit& split,
                                   std::string_view path);

// After a whole-file parse: fills cfg.source when the split agrees with what yaml-cpp
// found (one item per endpoint, each endpoint inside its item); leaves it empty otherwise.
void index_source(std::string_view text, Config& cfg);

}  // namespace gatehouse::config::detail
