// http/: header rules shared by the request and response rewriting.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace gatehouse::http {

// Hop-by-hop fields of RFC 9110 7.6.1 plus the legacy ones a proxy must not forward:
// Connection, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Connection,
// Proxy-Authorization.
bool is_hop_by_hop(std::string_view name);

// True when `name` is one of the field names listed in a Connection header.
bool named_by_connection(std::string_view name, std::span<const std::string_view> tokens);

// RFC 9110 9.2.2: GET, HEAD, OPTIONS, TRACE, PUT, DELETE (methods are case-sensitive).
bool is_idempotent(std::string_view method);

// An X-Request-Id the gateway keeps: 1-128 characters of [A-Za-z0-9._:-].
bool is_sane_request_id(std::string_view id);

// 32 lower-case hex characters from a per-thread generator seeded from the OS.
void generate_request_id(std::string& out);

}  // namespace gatehouse::http
