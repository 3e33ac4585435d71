// config/: helpers that walk a yaml-cpp node tree strictly and collect every error
// with its key path and 1-based position. Internal to config/.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace gatehouse::config::detail {

struct Pos {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
};

Pos pos_of(const YAML::Node& node);

struct Value;

class Errors {
 public:
  void add(std::string path, Pos pos, std::string message);
  // An error about the value itself: the message starts with the value quoted
  // (`"ftp://x": must be an http:// or https:// URL`) when it is a non-empty scalar.
  void add(const Value& v, std::string message);
  std::size_t size() const { return list_.size(); }
  std::vector<ConfigError>& list() { return list_; }

 private:
  std::vector<ConfigError> list_;
};

std::string join_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, std::size_t index);
// Quoted values are cut at this many characters (then "..." follows the closing quote).
inline constexpr std::size_t kQuoteLimit = 60;
// "text": at most kQuoteLimit characters, with ", \, control characters and bytes that
// are not UTF-8 escaped, so a message stays one line of valid UTF-8.
std::string quoted(std::string_view text);

// A value at a key path: a mapping value or a sequence item.
struct Value {
  std::string path;
  YAML::Node node;
  Pos pos;  // of the value; of its key when the value is null (yaml-cpp marks an
            // empty value at the following token, which would mislead)
};

// One key of a mapping: its first occurrence (later ones are reported as duplicates).
struct Entry {
  std::string key;
  Pos key_pos;
  Value value;
};

inline constexpr std::uint64_t kNoMax = std::numeric_limits<std::uint64_t>::max();

// Typed readers: each reports what is wrong with `v` and returns nullopt then.
std::optional<std::string> as_string(Errors& errors, const Value& v, bool allow_empty = false);
std::optional<bool> as_bool(Errors& errors, const Value& v);
std::optional<std::uint64_t> as_integer(Errors& errors, const Value& v, std::uint64_t min,
                                        std::uint64_t max);
std::optional<Duration> as_duration(Errors& errors, const Value& v, bool allow_zero);
std::optional<std::uint64_t> as_size(Errors& errors, const Value& v);
// A sequence (a null value is an empty one when `null_is_empty`): its items.
std::optional<std::vector<Value>> as_sequence(Errors& errors, const Value& v,
                                              bool null_is_empty = false);
// A sequence of strings: the items that are strings (the others are reported).
std::optional<std::vector<std::pair<std::string, Value>>> as_string_list(Errors& errors,
                                                                         const Value& v);

// Reads one mapping: reports a value that is not a mapping, non-scalar keys,
// duplicate keys and unknown keys (with a "did you mean" hint).
class MapReader {
 public:
  MapReader(Errors& errors, const Value& v, std::span<const std::string_view> allowed);

  bool ok() const { return ok_; }
  const Entry* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  const std::string& path() const { return path_; }
  Pos pos() const { return pos_; }
  Errors& errors() const { return *errors_; }
  std::string key_path(std::string_view key) const { return join_path(path_, key); }

  // Absent key or invalid value (reported) -> nullopt.
  std::optional<std::string> string(std::string_view key, bool allow_empty = false) const;
  std::optional<bool> boolean(std::string_view key) const;
  std::optional<std::uint64_t> integer(std::string_view key, std::uint64_t min,
                                       std::uint64_t max = kNoMax) const;
  std::optional<Duration> duration(std::string_view key, bool allow_zero = false) const;
  std::optional<std::uint64_t> size(std::string_view key) const;
  std::optional<std::vector<std::pair<std::string, Value>>> string_list(
      std::string_view key) const;

  template <typename T, typename U>
  static void assign(T& out, const std::optional<U>& v) {
    if (v) out = static_cast<T>(*v);
  }

 private:
  Errors* errors_;
  std::string path_;
  Pos pos_;
  bool ok_ = false;
  std::vector<Entry> entries_;
};

}  // namespace gatehouse::config::detail
