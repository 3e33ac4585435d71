#include "config/yaml_walk.hpp"

#include <algorithm>

#include "common/units.hpp"
#include "config/did_you_mean.hpp"
#include "config/utf8.hpp"

namespace gatehouse::config::detail {

Pos pos_of(const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  if (m.is_null() || m.line < 0 || m.column < 0) return {};
  return {m.line + 1, m.column + 1};
}

void Errors::add(std::string path, Pos pos, std::string message) {
  list_.push_back(ConfigError{std::move(path), pos.line, pos.column, std::move(message)});
}

void Errors::add(const Value& v, std::string message) {
  if (v.node.IsScalar() && !v.node.Scalar().empty()) {
    message = quoted(v.node.Scalar()) + ": " + message;
  }
  add(v.path, v.pos, std::move(message));
}

namespace {

// A key goes into a path as written unless it would make the path ambiguous or break
// the line it is printed on.
bool plain_key(std::string_view key) {
  if (key.empty() || key.size() > kQuoteLimit) return false;
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

std::string join_path(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (!out.empty()) out += '.';
  if (plain_key(key)) {
    out += key;
  } else {
    out += quoted(key);
  }
  return out;
}

std::string index_path(std::string_view parent, std::size_t index) {
  std::string out(parent);
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

std::string quoted(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "\"";
  std::size_t i = 0;
  for (std::size_t chars = 0; i < text.size() && chars < kQuoteLimit; ++chars) {
    const auto c = static_cast<unsigned char>(text[i]);
    const std::size_t len = utf8_sequence_length(text, i);
    if (len == 0) {  // not UTF-8: the byte's value
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0x0f];
      ++i;
      continue;
    }
    if (len > 1) {
      out.append(text.substr(i, len));
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 0x0f];
    } else {
      out += static_cast<char>(c);
    }
    i += len;
  }
  out += '"';
  if (i < text.size()) out += "...";  // cut: outside the quotes, so never mistaken for text
  return out;
}

namespace {

const char* describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a sequence";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

// A plain (unquoted, untagged) scalar: the only form a YAML integer or boolean takes.
bool is_plain(const YAML::Node& node) { return node.IsScalar() && node.Tag() == "?"; }

std::string integer_expectation(std::uint64_t min, std::uint64_t max) {
  const bool unbounded = max >= std::numeric_limits<std::uint32_t>::max();
  if (unbounded && min == 0) return "must be a non-negative integer";
  if (unbounded && min == 1) return "must be a positive integer";
  if (unbounded) return "must be an integer of at least " + std::to_string(min);
  return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

}  // namespace

std::optional<std::string> as_string(Errors& errors, const Value& v, bool allow_empty) {
  if (!v.node.IsScalar()) {
    errors.add(v, std::string("must be a string, got ") + describe(v.node));
    return std::nullopt;
  }
  if (!allow_empty && v.node.Scalar().empty()) {
    errors.add(v, "must not be empty");
    return std::nullopt;
  }
  return v.node.Scalar();
}

std::optional<bool> as_bool(Errors& errors, const Value& v) {
  if (is_plain(v.node)) {
    if (v.node.Scalar() == "true") return true;
    if (v.node.Scalar() == "false") return false;
  }
  errors.add(v, "must be true or false");
  return std::nullopt;
}

std::optional<std::uint64_t> as_integer(Errors& errors, const Value& v, std::uint64_t min,
                                        std::uint64_t max) {
  const std::string expectation = integer_expectation(min, max);
  if (!is_plain(v.node)) {
    errors.add(v,
               expectation + (v.node.IsScalar() ? ", not a quoted string"
                                                : std::string(", got ") + describe(v.node)));
    return std::nullopt;
  }
  const std::string& text = v.node.Scalar();
  std::uint64_t value = 0;
  bool ok = !text.empty();
  for (char c : text) {
    if (c < '0' || c > '9') {
      ok = false;
      break;
    }
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (kNoMax - digit) / 10) {
      ok = false;
      break;
    }
    value = value * 10 + digit;
  }
  if (!ok || value < min || value > max) {
    errors.add(v, expectation);
    return std::nullopt;
  }
  return value;
}

std::optional<Duration> as_duration(Errors& errors, const Value& v, bool allow_zero) {
  std::optional<Duration> d;
  if (v.node.IsScalar()) d = parse_duration(v.node.Scalar());
  if (!d) {
    errors.add(v,
               "must be a duration with a unit: ms, s, m or h (e.g. \"250ms\", \"10s\")");
    return std::nullopt;
  }
  if (!allow_zero && d->count() == 0) {
    errors.add(v, "must be greater than 0");
    return std::nullopt;
  }
  return d;
}

std::optional<std::uint64_t> as_size(Errors& errors, const Value& v) {
  std::optional<std::uint64_t> s;
  if (v.node.IsScalar()) s = parse_size(v.node.Scalar());
  if (!s) {
    errors.add(v,
               "must be a size in bytes, or with a unit: B, KiB, MiB or GiB (e.g. \"16KiB\")");
    return std::nullopt;
  }
  if (*s == 0) {
    errors.add(v, "must be greater than 0");
    return std::nullopt;
  }
  return s;
}

std::optional<std::vector<Value>> as_sequence(Errors& errors, const Value& v,
                                              bool null_is_empty) {
  if (null_is_empty && v.node.IsNull()) return std::vector<Value>{};
  if (!v.node.IsSequence()) {
    errors.add(v, std::string("must be a sequence, got ") + describe(v.node));
    return std::nullopt;
  }
  std::vector<Value> items;
  std::size_t i = 0;
  for (const auto& item : v.node) {
    Pos pos = pos_of(item);
    if (item.IsNull() || pos.line == 0) pos = v.pos;
    items.push_back(Value{index_path(v.path, i), item, pos});
    ++i;
  }
  return items;
}

std::optional<std::vector<std::pair<std::string, Value>>> as_string_list(Errors& errors,
                                                                         const Value& v) {
  auto items = as_sequence(errors, v);
  if (!items) return std::nullopt;
  std::vector<std::pair<std::string, Value>> out;
  for (auto& item : *items) {
    if (auto s = as_string(errors, item)) out.emplace_back(std::move(*s), std::move(item));
  }
  return out;
}

MapReader::MapReader(Errors& errors, const Value& v, std::span<const std::string_view> allowed)
    : errors_(&errors), path_(v.path), pos_(v.pos) {
  if (!v.node.IsMap()) {
    errors.add(v, std::string("must be a mapping, got ") + describe(v.node));
    return;
  }
  ok_ = true;
  for (auto it = v.node.begin(); it != v.node.end(); ++it) {
    const YAML::Node key_node = it->first;  // copies: `it->` yields a temporary
    const Pos key_pos = pos_of(key_node);
    if (!key_node.IsScalar()) {
      errors.add(path_, key_pos, "keys must be strings");
      continue;
    }
    const std::string& key = key_node.Scalar();
    const std::string path = join_path(path_, key);
    if (const Entry* first = find(key)) {
      errors.add(path, key_pos,
                 "duplicate key (first at line " + std::to_string(first->key_pos.line) +
                     ", col " + std::to_string(first->key_pos.column) + ")");
      continue;
    }
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string message = "unknown key";
      if (auto hint = suggest(key, allowed); !hint.empty()) {
        message += "; did you mean " + quoted(hint) + "?";
      } else {
        message += "; expected one of:";
        for (std::size_t i = 0; i < allowed.size(); ++i) {
          message += (i == 0 ? " " : ", ");
          message += allowed[i];
        }
      }
      errors.add(path, key_pos, std::move(message));
      continue;
    }
    const YAML::Node value = it->second;
    Pos value_pos = pos_of(value);
    if (value.IsNull() || value_pos.line == 0) value_pos = key_pos;
    entries_.push_back(Entry{key, key_pos, Value{path, value, value_pos}});
  }
}

const Entry* MapReader::find(std::string_view key) const {
  for (const auto& e : entries_) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

std::optional<std::string> MapReader::string(std::string_view key, bool allow_empty) const {
  const Entry* e = find(key);
  return e ? as_string(*errors_, e->value, allow_empty) : std::nullopt;
}

std::optional<bool> MapReader::boolean(std::string_view key) const {
  const Entry* e = find(key);
  return e ? as_bool(*errors_, e->value) : std::nullopt;
}

std::optional<std::uint64_t> MapReader::integer(std::string_view key, std::uint64_t min,
                                                std::uint64_t max) const {
  const Entry* e = find(key);
  return e ? as_integer(*errors_, e->value, min, max) : std::nullopt;
}

std::optional<Duration> MapReader::duration(std::string_view key, bool allow_zero) const {
  const Entry* e = find(key);
  return e ? as_duration(*errors_, e->value, allow_zero) : std::nullopt;
}

std::optional<std::uint64_t> MapReader::size(std::string_view key) const {
  const Entry* e = find(key);
  return e ? as_size(*errors_, e->value) : std::nullopt;
}

std::optional<std::vector<std::pair<std::string, Value>>> MapReader::string_list(
    std::string_view key) const {
  const Entry* e = find(key);
  return e ? as_string_list(*errors_, e->value) : std::nullopt;
}

}  // namespace gatehouse::config::detail
