// balance/: the `hash_key` of a request (SPEC section 13): the client's IP address, a
// header, a cookie or a query parameter. A view into the request head or `client_ip`:
// nothing is copied or decoded (the same bytes always hash the same).
#pragma once

#include <optional>
#include <string_view>

#include "config/config.hpp"
#include "http/message.hpp"

namespace gatehouse::balance {

// nullopt when the request has no such key or its value is empty: that request goes
// round robin. `client_ip` is the connection's peer address (never X-Forwarded-For).
//   header:NAME  the first field named NAME (case-insensitive), OWS trimmed
//   cookie:NAME  the first cookie named NAME (case-sensitive) in any Cookie field
//   query:NAME   the first parameter named NAME (case-sensitive, as sent) of the query;
//                "?NAME" alone has an empty value
std::optional<std::string_view> request_key(const config::HashKey& key,
                                            const http::RequestHead& head,
                                            std::string_view client_ip);

// The pieces, for tests and other users of the same syntax.
std::optional<std::string_view> cookie_value(std::string_view cookie_header, std::string_view name);
std::optional<std::string_view> query_value(std::string_view query, std::string_view name);

}  // namespace gatehouse::balance
