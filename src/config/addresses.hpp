// config/: syntax checks for the address-like values of the config: `listen`,
// upstream `url`, route prefixes, method tokens. Pure functions; internal to config/.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace gatehouse::config::detail {

// Each returns "" on success, else the error message.
std::string parse_listen(std::string_view text, std::string& host, std::uint16_t& port);
std::string parse_upstream_url(std::string_view text, UpstreamUrl& out);

// Validates a route prefix and writes its normalised form (escapes of unreserved
// characters decoded, other escapes upper-cased: the form the router matches).
std::string normalize_prefix(std::string_view text, std::string& out);

// The reserved gateway path `prefix` equals or lies under, or "".
std::string_view reserved_path_of(std::string_view prefix);

// True when `text` is an RFC 9110 token (what an HTTP method must be).
bool is_token(std::string_view text);

// True when `text` contains a space, tab or another control character.
bool has_space_or_control(std::string_view text);

}  // namespace gatehouse::config::detail
