// common/: error codes and the problem+json body every gateway-made error uses.
#pragma once

#include <string>
#include <string_view>

namespace gatehouse {

enum class ErrorCode {
  bad_request,
  unauthorized,
  forbidden,
  no_route,
  method_not_allowed,
  request_timeout,
  payload_too_large,
  uri_too_long,
  headers_too_large,
  rate_limited,
  internal_error,
  not_implemented,
  upstream_error,
  circuit_open,
  draining,
  rate_limit_unavailable,
  upstream_timeout,
  invalid_config,
};

int status_of(ErrorCode code);
std::string_view code_name(ErrorCode code);       // "no_route"
std::string_view reason_phrase(int status);       // "Not Found"

// RFC 9457 body: {"type":"about:blank","title":...,"status":...,"detail":...,
// "code":...,"request_id":...[,"endpoint":...]}. `endpoint` is omitted when empty.
std::string problem_json(ErrorCode code, std::string_view detail,
                         std::string_view request_id, std::string_view endpoint = {});

}  // namespace gatehouse
