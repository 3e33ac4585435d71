// config/: one pass over the raw YAML text before yaml-cpp parses it. yaml-cpp recurses
// once per nesting level and accepts a quoted scalar left open at the end of the file,
// so both are found here first; the pass also remembers what a syntax error's likely
// cause is. Internal to config/.
#pragma once

#include <cstddef>
#include <string_view>

#include "config/yaml_walk.hpp"

namespace gatehouse::config::detail {

inline constexpr std::size_t kMaxConfigBytes = 64 * 1024 * 1024;
inline constexpr int kMaxNesting = 64;

struct QuoteSpan {
  Pos open;          // where the quote character is (line 0: none)
  Pos close;         // where the closing quote is (line 0: never closed)
  char quote = '"';  // '"' or '\''
};

struct Prescan {
  // Collections (mappings and sequences, block or flow) nested in each other at the
  // deepest point seen; the scan stops once it passes the limit.
  int depth = 0;
  Pos too_deep;            // the collection that went past the limit (line 0: none)
  QuoteSpan unclosed;      // a quoted scalar still open at the end of the file
  // The first quoted scalar that runs over several lines taking in lines that look
  // like YAML keys or sequence entries: most likely a quote left unclosed on its line.
  QuoteSpan swallowing;
};

// Nesting counts the collections around a node: `a: [[1]]` is 3 deep.
Prescan prescan_yaml(std::string_view text, int max_depth = kMaxNesting);

// The likely cause of a yaml-cpp syntax error reported at `at` (1-based), or "":
// a tab in the indentation of that line (or of the line before it), or a quote that
// swallowed the lines up to it. `where` receives the position to report.
std::string syntax_error_cause(std::string_view text, const Prescan& scan, Pos at, Pos& where);

}  // namespace gatehouse::config::detail
