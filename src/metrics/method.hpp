// metrics/: the `method` label: a fixed set, never the client's own token.
#pragma once

#include <cstdint>
#include <string_view>

namespace gatehouse::metrics {

enum class Method : std::uint8_t { get, head, post, put, del, patch, options, trace, other };
inline constexpr std::size_t kMethods = 9;

// Exact (case-sensitive, RFC 9110 9.1) match of the eight standard methods that carry
// a request to an upstream; everything else, CONNECT and extension methods included,
// is `other`, so a client cannot create series.
Method method_of(std::string_view token);
std::string_view method_label(Method m);  // "GET" ... "TRACE", "OTHER"

}  // namespace gatehouse::metrics
