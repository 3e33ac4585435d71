// auth/: OAuth scopes carried in a JWT claim (RFC 8693 section 4.2 style string, or an
// array of strings as some issuers send) and the checks routes make against them.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::auth {

// Reads claim `name`: absent -> no scopes (true); a space-separated string or an array
// of strings -> the scopes, empty entries dropped; anything else -> false.
bool extract_scopes(const boost::json::object& claims, std::string_view name,
                    std::vector<std::string>& out);

// Splits a space-separated scope string (as `gatehouse token --scope` takes it).
std::vector<std::string> split_scopes(std::string_view text);

// True when `required` is "" (no scope needed) or one of `granted`.
bool has_scope(const std::vector<std::string>& granted, std::string_view required);

// The first of `required` not in `granted`, for the RFC 6750 `scope="..."` attribute;
// nullopt when all are present.
std::optional<std::string> first_missing_scope(const std::vector<std::string>& granted,
                                               const std::vector<std::string>& required);

}  // namespace gatehouse::auth
