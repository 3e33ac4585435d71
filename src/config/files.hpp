// config/: file access for the loader: reading whole files, resolving `*_file` paths,
// hashing. Internal to config/.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::config::detail {

// Reads the whole file. On failure returns nullopt and sets `error` to the reason
// (strerror text, or "is a directory").
std::optional<std::string> read_file(const std::string& path, std::string& error);

// As above for a file of at most `max_bytes`: a larger one is not read (its size is
// checked first, and no more than max_bytes + 1 bytes are read in case it grows
// meanwhile); `too_large` is set and `error` says how large it is.
std::optional<std::string> read_file(const std::string& path, std::string& error,
                                     std::size_t max_bytes, bool& too_large);

// `file` as written in the config, resolved against the directory of `config_path`
// when relative.
std::string resolve_path(std::string_view config_path, std::string_view file);

// Lower-case hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

}  // namespace gatehouse::config::detail
