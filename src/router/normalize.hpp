// router/: request-path normalisation and the compiled route table. No I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::router {

// Normalises the path part of a request target (no query) per SPEC section 3:
// percent-escapes of unreserved characters (ALPHA DIGIT - . _ ~) are decoded,
// every other escape is kept with upper-case hex digits (so %2F and %5C stay encoded),
// then dot segments are removed (RFC 3986 5.2.4). "//" is not merged.
// Returns nullopt when the path is not origin-form ("/..."), has a malformed escape
// (% not followed by two hex digits), or contains bytes not allowed in a path
// (controls, space, non-ASCII, '#', '"', '<', '>', '\\', '^', '`', '{', '|', '}').
std::optional<std::string> normalize_path(std::string_view path);

}  // namespace gatehouse::router
