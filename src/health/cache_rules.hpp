// health/: which responses the `cached` fallback may keep and serve (SPEC section 5,
// the shared-cache rules of RFC 9111 that keep one user's data from another).
#pragma once

#include <span>
#include <string_view>

#include "http/message.hpp"

namespace gatehouse::health {

struct CacheControl {
  bool is_public = false;
  bool is_private = false;
  bool no_store = false;
};

// Reads the directives of one or more Cache-Control field values (comma lists,
// case-insensitive names, `name=token` and `name="quoted, string"` arguments).
void parse_cache_control(std::string_view value, CacheControl& out);

// The storability rule as a pure function:
// - GET and HEAD only; 2xx only (206 excluded: a partial response is not the resource);
// - never with Set-Cookie, `private` or `no-store`;
// - a request with Authorization or Cookie only when the response said `public`.
// (The size rule, max_bytes / 8, is the cache's.)
bool storable(std::string_view method, bool request_has_credentials, int status,
              const CacheControl& response_cache_control, bool response_has_set_cookie);

// The same over a parsed response's fields (Cache-Control and Set-Cookie are looked
// up here).
bool storable(std::string_view method, bool request_has_credentials, int status,
              std::span<const http::Field> response_fields);

// True when a request's fields carry Authorization or Cookie.
bool has_credentials(std::span<const http::Field> request_fields);

}  // namespace gatehouse::health
