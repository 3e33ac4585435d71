#include "config/source_index.hpp"

#include <bit>
#include <climits>
#include <cstdint>
#include <cstring>

namespace gatehouse::config::detail {

namespace {

struct Line {
  std::size_t begin = 0;
  std::size_t end = 0;   // before '\n' (and a '\r' before it)
  std::size_t next = 0;  // the next line's begin
};

Line line_at(std::string_view text, std::size_t begin) {
  const std::size_t nl = text.find('\n', begin);
  Line l{begin, nl == std::string_view::npos ? text.size() : nl, 0};
  l.next = nl == std::string_view::npos ? text.size() : nl + 1;
  if (l.end > l.begin && text[l.end - 1] == '\r') --l.end;
  return l;
}

enum class Kind { blank, comment, content, tab };

struct Shape {
  Kind kind = Kind::blank;
  std::size_t indent = 0;
  bool entry = false;  // `-` followed by a space or the end of the line
};

Shape shape_of(std::string_view line) {
  Shape s;
  while (s.indent < line.size() && line[s.indent] == ' ') ++s.indent;
  if (s.indent == line.size()) return s;
  const char c = line[s.indent];
  if (c == '\t') {
    // Tabs may separate, never indent: leave such lines to the parser's messages.
    s.kind = Kind::tab;
    return s;
  }
  if (c == '#') {
    s.kind = Kind::comment;
    return s;
  }
  s.kind = Kind::content;
  s.entry = c == '-' && (s.indent + 1 == line.size() || line[s.indent + 1] == ' ');
  return s;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// `endpoints:` alone on its line (a comment may follow): 1; some other spelling of the
// key (quoted, flow value, `endpoints :` ...): -1, no split; not this key: 0.
int endpoints_key(std::string_view line) {
  const bool quoted = starts_with(line, "\"endpoints") || starts_with(line, "'endpoints");
  if (!starts_with(line, "endpoints") && !quoted) return 0;
  if (quoted) return -1;
  std::string_view rest = line.substr(9);
  if (!rest.empty() && rest[0] != ':' && rest[0] != ' ') return 0;  // endpointsx:
  if (!starts_with(rest, ":")) return -1;
  rest.remove_prefix(1);
  std::size_t i = 0;
  while (i < rest.size() && rest[i] == ' ') ++i;
  if (i == rest.size()) return 1;
  return i > 0 && rest[i] == '#' ? 1 : -1;
}

// An anchor (&) or alias (*) ties an item to text elsewhere: no split. Each is treated
// as one where a node may start (line start, after `- `, `: `, `[`, `{`, `,`, `?`, a
// tag); inside plain or quoted scalars the characters are literal, but telling those
// apart needs a parser, so this errs on the side of no split.
bool has_anchor_or_alias(std::string_view region) {
  for (std::size_t i = region.find_first_of("&*"); i != std::string_view::npos;
       i = region.find_first_of("&*", i + 1)) {
    std::size_t j = i;
    while (j > 0 && region[j - 1] == ' ') --j;
    if (j == 0) return true;
    const char before = region[j - 1];
    if (before == '\n' || before == '-' || before == ':' || before == '[' || before == '{' ||
        before == ',' || before == '?' || before == '!')
      return true;
  }
  return false;
}

constexpr std::uint64_t kMul1 = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t kMul2 = 0xC2B2AE3D27D4EB4Full;

std::uint64_t finish(std::uint64_t x) {
  x ^= x >> 31;
  x *= 0x7FB5D329728EA185ull;
  x ^= x >> 27;
  x *= 0x81DADEF4BC2DD44Dull;
  x ^= x >> 33;
  return x;
}

}  // namespace

std::optional<EndpointSplit> split_endpoints(std::string_view text) {
  EndpointSplit split;
  bool found = false;   // the key line was seen
  bool in_items = false;
  bool done = false;    // past the items
  std::size_t indent = 0;
  int line_no = 1;
  for (std::size_t at = 0; at < text.size(); ++line_no) {
    const Line l = line_at(text, at);
    at = l.next;
    const std::string_view line = text.substr(l.begin, l.end - l.begin);
    if (starts_with(line, "---") || starts_with(line, "...") || starts_with(line, "%"))
      return std::nullopt;  // document markers and directives
    const Shape s = shape_of(line);
    if (s.kind == Kind::tab) return std::nullopt;
    if (!found || done) {
      if (s.kind == Kind::content && s.indent == 0) {
        const int key = endpoints_key(line);
        if (key < 0 || (key > 0 && found)) return std::nullopt;  // odd or repeated key
        found = found || key > 0;
      }
      continue;
    }
    if (s.kind != Kind::content) continue;  // blank and comment lines stay with an item
    if (!in_items) {
      if (!s.entry) return std::nullopt;  // `endpoints:` with no block sequence under it
      in_items = true;
      indent = s.indent;
      split.begin = l.begin;
      split.items.push_back({l.begin, 0, line_no});
      continue;
    }
    if (s.indent == indent && s.entry) {
      split.items.back().end = l.begin;
      split.items.push_back({l.begin, 0, line_no});
    } else if (s.indent <= indent) {
      if (s.indent != 0) return std::nullopt;  // between two levels: let the parser say
      done = true;
      split.end = l.begin;
      split.items.back().end = l.begin;
      const int key = endpoints_key(line);
      if (key != 0) return std::nullopt;
    }
  }
  if (!in_items) return std::nullopt;
  if (!done) {
    split.end = text.size();
    split.items.back().end = text.size();
  }
  if (has_anchor_or_alias(text.substr(split.begin, split.end - split.begin))) return std::nullopt;
  return split;
}

SourceIndex::Digest digest(std::string_view bytes) {
  // Two multiply-rotate lanes over 8-byte words, each finished separately: a cache key
  // for text the operator wrote, not a defence against crafted collisions.
  std::uint64_t a = 0x243F6A8885A308D3ull ^ bytes.size();
  std::uint64_t b = 0x13198A2E03707344ull + bytes.size() * kMul2;
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);
    a = std::rotl(a ^ w, 29) * kMul1;
    b = std::rotl(b + w * kMul2, 23) * kMul1 + 0x632BE59BD9B4E019ull;
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  a = std::rotl(a ^ tail, 29) * kMul1;
  b = std::rotl(b + tail * kMul2, 23) * kMul1;
  return {finish(a ^ std::rotl(b, 17)), finish(b + a * kMul2)};
}

SourceIndex::Digest context_digest(std::string_view text, const EndpointSplit& split,
                                   std::string_view path) {
  const SourceIndex::Digest parts[3] = {digest(text.substr(0, split.begin)),
                                        digest(text.substr(split.end)), digest(path)};
  return digest(std::string_view(reinterpret_cast<const char*>(parts), sizeof parts));
}

void index_source(std::string_view text, Config& cfg) {
  cfg.source = {};
  const auto split = split_endpoints(text);
  if (!split || split->items.size() != cfg.endpoints.size()) return;
  std::vector<SourceIndex::Item> items;
  items.reserve(cfg.endpoints.size());
  for (std::size_t i = 0; i < cfg.endpoints.size(); ++i) {
    const ItemSpan& item = split->items[i];
    const Endpoint& ep = cfg.endpoints[i];
    const int next = i + 1 < split->items.size() ? split->items[i + 1].line : INT_MAX;
    if (ep.line < item.line || ep.line >= next) return;  // the split is not the parse's
    items.push_back({digest(text.substr(item.begin, item.end - item.begin)),
                     static_cast<std::uint32_t>(ep.line - item.line), !ep.tls->ca_file});
  }
  cfg.source.items = std::move(items);
  cfg.source.context = context_digest(text, *split, cfg.path);
}

}  // namespace gatehouse::config::detail
