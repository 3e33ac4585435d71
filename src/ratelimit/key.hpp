// ratelimit/: which bucket a request takes its token from (SPEC section 14, `key`).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "http/message.hpp"

namespace gatehouse::ratelimit {

struct KeySpec {
  enum class Kind { client_ip, header, jwt_claim, endpoint };
  Kind kind = Kind::client_ip;
  std::string name;  // the header or claim name

  // From a validated config value: client_ip | header:NAME | jwt_claim:NAME | endpoint.
  static KeySpec parse(std::string_view text);
};

// The request's key: "" when the request has none (every such request shares the empty
// key's bucket). `client_ip` is the connection's peer, never X-Forwarded-For. The view
// is into `client_ip`, a field's value or (jwt_claim) `scratch`: no copy but a claim's.
// jwt_claim reads the bearer token's claims, which the authenticate phase verified
// before this runs: a string claim as it is, any other JSON value serialised.
std::string_view key_of(const KeySpec& spec, std::string_view client_ip,
                        std::span<const http::Field> fields, std::string& scratch);

}  // namespace gatehouse::ratelimit
