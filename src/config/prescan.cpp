#include "config/prescan.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace gatehouse::config::detail {
namespace {

constexpr std::size_t kNpos = std::string_view::npos;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

std::size_t skip_blanks(std::string_view line, std::size_t p) {
  while (p < line.size() && is_blank(line[p])) ++p;
  return p;
}

// A line that reads like YAML structure ("- item", "key: value"): inside a quoted
// scalar it means the quote most likely swallowed it.
bool looks_structural(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  if (i == line.size()) return false;
  if (line[i] == '-') return i + 1 == line.size() || is_blank(line[i + 1]);
  std::size_t k = i;
  while (k < line.size() && (std::isalnum(static_cast<unsigned char>(line[k])) ||
                             line[k] == '_' || line[k] == '-'))
    ++k;
  if (k == i || k == line.size() || line[k] != ':') return false;
  return k + 1 == line.size() || is_blank(line[k + 1]);
}

// Follows block structure by indentation (each `- `, `? ` and `key:` opens or continues
// a collection at its column) and flow structure by brackets, skipping quoted and
// block scalars and comments. Over-counting is harmless (limits are far above real
// files); under-counting is what the scan exists to prevent.
class Scanner {
 public:
  Scanner(std::string_view text, int max_depth) : text_(text), max_(max_depth) {}

  Prescan run() {
    std::size_t start = 0;
    while (!stop_) {
      const std::size_t nl = text_.find('\n', start);
      const std::size_t end = nl == kNpos ? text_.size() : nl;
      std::string_view line = text_.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      ++line_;
      scan_line(line);
      if (nl == kNpos) break;
      start = nl + 1;
    }
    if (quote_ && !stop_) out_.unclosed = span_;
    return out_;
  }

 private:
  struct Block {
    std::size_t col;
    bool seq;
  };
  struct Flow {
    bool seq;
    bool pair;  // an implicit `key: value` entry of a flow sequence: one level more
  };

  int depth() const { return static_cast<int>(block_.size() + flow_.size()) + pairs_; }

  bool within_limit(std::size_t col) {
    out_.depth = std::max(out_.depth, depth());
    if (depth() <= max_) return true;
    out_.too_deep = Pos{line_, static_cast<int>(col) + 1};
    stop_ = true;
    return false;
  }

  // A block collection entry (`-` for a sequence, a key or `?` for a mapping) at `col`.
  bool open_block(std::size_t col, bool seq) {
    // A key at the column of a sequence ends that (indentless) sequence.
    while (!block_.empty() &&
           (block_.back().col > col || (block_.back().col == col && block_.back().seq && !seq)))
      block_.pop_back();
    if (!block_.empty() && block_.back().col == col && block_.back().seq == seq) return true;
    block_.push_back({col, seq});
    return within_limit(col);
  }

  void scan_line(std::string_view line) {
    if (quote_) {
      if (looks_structural(line)) structural_ = true;
      const std::size_t p = scan_quote(line, 0);
      if (p != kNpos && in_flow_) scan_flow(line, p);
      return;
    }
    if (block_scalar_) {
      const std::size_t ind = skip_blanks(line, 0);
      if (ind == line.size()) return;  // blank lines belong to the scalar
      std::size_t spaces = 0;
      while (spaces < line.size() && line[spaces] == ' ') ++spaces;
      if (static_cast<long>(spaces) > block_scalar_min_) return;
      block_scalar_ = false;
    }
    if (!flow_.empty()) {
      scan_flow(line, 0);
      return;
    }
    std::size_t p = 0;
    while (p < line.size() && line[p] == ' ') ++p;
    if (p == line.size() || line[p] == '#') return;
    if (p == 0 && line.size() >= 3 && (line.starts_with("---") || line.starts_with("...")) &&
        (line.size() == 3 || is_blank(line[3]))) {
      block_.clear();  // a document marker: the next document starts from nothing
      if (line[0] == '.') return;
      p = skip_blanks(line, 3);
    }
    if (p == 0 && line[0] == '%') return;  // a directive
    scan_node(line, p);
  }

  // The node starting at `p` in block context, and what follows it on the line.
  void scan_node(std::string_view line, std::size_t p) {
    const std::size_t n = line.size();
    for (;;) {
      while (p < n && (line[p] == '&' || line[p] == '!')) {  // anchor, tag
        while (p < n && !is_blank(line[p])) ++p;
        p = skip_blanks(line, p);
      }
      if (p >= n || line[p] == '#' || line[p] == '*') return;
      const char c = line[p];
      const bool indicator = p + 1 == n || is_blank(line[p + 1]);
      if ((c == '-' || c == '?') && indicator) {
        if (!open_block(p, c == '-')) return;
        p = skip_blanks(line, p + 1);
        continue;
      }
      if (c == ':' && indicator) {  // the value of an explicit `? key`
        p = skip_blanks(line, p + 1);
        continue;
      }
      if (c == '[' || c == '{') {
        scan_flow(line, p);
        return;
      }
      if (c == '|' || c == '>') {  // block scalar: lines indented past its parent follow
        block_scalar_ = true;
        block_scalar_min_ = block_.empty() ? -1 : static_cast<long>(block_.back().col);
        return;
      }
      if (c == '"' || c == '\'') {
        const std::size_t end = begin_quote(line, p, false);
        if (end == kNpos) return;
        const std::size_t k = skip_blanks(line, end);
        if (k < n && line[k] == ':' && (k + 1 == n || is_blank(line[k + 1]))) {
          if (!open_block(p, false)) return;
          p = skip_blanks(line, k + 1);
          continue;
        }
        return;
      }
      // A plain scalar: a key when ": " (or a final ':') comes before any comment.
      std::size_t k = p;
      bool key = false;
      for (; k < n; ++k) {
        if (line[k] == ':' && (k + 1 == n || is_blank(line[k + 1]))) {
          key = true;
          break;
        }
        if (line[k] == '#' && k > p && is_blank(line[k - 1])) break;
      }
      if (!key || !open_block(p, false)) return;
      p = skip_blanks(line, k + 1);
    }
  }

  void scan_flow(std::string_view line, std::size_t p) {
    const std::size_t n = line.size();
    bool token_start = true;
    for (std::size_t i = p; i < n; ++i) {
      const char c = line[i];
      if (c == '[' || c == '{') {
        flow_.push_back({c == '[', false});
        if (!within_limit(i)) return;
        token_start = true;
      } else if (c == ']' || c == '}') {
        if (!flow_.empty()) {
          if (flow_.back().pair) --pairs_;
          flow_.pop_back();
        }
        if (flow_.empty()) return;  // back in block context; the rest is not structure
        token_start = false;
      } else if (c == ',') {
        if (!flow_.empty() && flow_.back().pair) {
          flow_.back().pair = false;
          --pairs_;
        }
        token_start = true;
      } else if (c == ':') {
        const char next = i + 1 < n ? line[i + 1] : ' ';
        const bool value = is_blank(next) || next == ',' || next == ']' || next == '}' ||
                           next == '[' || next == '{' || (i > 0 && (line[i - 1] == '"' ||
                                                                    line[i - 1] == '\''));
        if (value && !flow_.empty() && flow_.back().seq && !flow_.back().pair) {
          flow_.back().pair = true;
          ++pairs_;
          if (!within_limit(i)) return;
        }
        token_start = value;
      } else if (c == '#' && (i == 0 || is_blank(line[i - 1]))) {
        return;  // comment
      } else if ((c == '"' || c == '\'') && token_start) {
        const std::size_t end = begin_quote(line, i, true);
        if (end == kNpos) return;
        i = end - 1;
        token_start = false;
      } else {
        token_start = is_blank(c);
      }
    }
  }

  // Starts the quoted scalar at line[p]; returns the index after its closing quote, or
  // kNpos when it goes on past this line.
  std::size_t begin_quote(std::string_view line, std::size_t p, bool in_flow) {
    quote_ = line[p];
    in_flow_ = in_flow;
    structural_ = false;
    span_ = QuoteSpan{Pos{line_, static_cast<int>(p) + 1}, Pos{}, quote_};
    return scan_quote(line, p + 1);
  }

  std::size_t scan_quote(std::string_view line, std::size_t from) {
    for (std::size_t i = from; i < line.size(); ++i) {
      if (quote_ == '"' && line[i] == '\\') {
        ++i;  // an escaped character
        continue;
      }
      if (line[i] != quote_) continue;
      if (quote_ == '\'' && i + 1 < line.size() && line[i + 1] == '\'') {
        ++i;  // '' is a quote inside single quotes
        continue;
      }
      span_.close = Pos{line_, static_cast<int>(i) + 1};
      if (structural_ && span_.close.line > span_.open.line && out_.swallowing.open.line == 0)
        out_.swallowing = span_;
      quote_ = 0;
      return i + 1;
    }
    return kNpos;
  }

  std::string_view text_;
  int max_;
  Prescan out_;
  int line_ = 0;
  bool stop_ = false;
  std::vector<Block> block_;
  std::vector<Flow> flow_;
  int pairs_ = 0;
  char quote_ = 0;  // the open quoted scalar's quote character, 0 when none
  bool in_flow_ = false;
  bool structural_ = false;
  QuoteSpan span_;
  bool block_scalar_ = false;
  long block_scalar_min_ = -1;  // its lines are indented more than this
};

std::string_view line_at(std::string_view text, int line) {
  std::size_t start = 0;
  for (int l = 1; l < line; ++l) {
    const std::size_t nl = text.find('\n', start);
    if (nl == kNpos) return {};
    start = nl + 1;
  }
  const std::size_t nl = text.find('\n', start);
  return text.substr(start, nl == kNpos ? kNpos : nl - start);
}

// Column (0-based) of a tab in the line's indentation, or kNpos.
std::size_t indentation_tab(std::string_view line) {
  for (std::size_t i = 0; i < line.size() && is_blank(line[i]); ++i) {
    if (line[i] == '\t') return i;
  }
  return kNpos;
}

const char* quote_name(char q) { return q == '"' ? "double quote" : "single quote"; }

}  // namespace

Prescan prescan_yaml(std::string_view text, int max_depth) {
  return Scanner(text, max_depth).run();
}

std::string syntax_error_cause(std::string_view text, const Prescan& scan, Pos at, Pos& where) {
  if (at.line > 0) {
    for (int line = at.line; line >= std::max(1, at.line - 1); --line) {
      const std::size_t tab = indentation_tab(line_at(text, line));
      if (tab == kNpos) continue;
      where = Pos{line, static_cast<int>(tab) + 1};
      return "a tab is used for indentation (YAML indents with spaces only)";
    }
  }
  const QuoteSpan& q = scan.swallowing;
  if (q.open.line > 0 && (at.line == 0 || q.open.line <= at.line)) {
    where = q.open;
    return std::string("the ") + quote_name(q.quote) +
           " opened here is not closed on its line: it runs to line " +
           std::to_string(q.close.line) + ", col " + std::to_string(q.close.column) +
           ", taking in what look like keys";
  }
  return {};
}

}  // namespace gatehouse::config::detail
