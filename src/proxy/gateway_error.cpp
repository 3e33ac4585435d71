#include "proxy/gateway_error.hpp"

namespace gatehouse::proxy::errors {

GatewayError from_head(http::HeadError err) {
  GatewayError e{ErrorCode::bad_request, Party::client, false, true, false, "malformed request"};
  switch (err) {
    case http::HeadError::uri_too_long:
      e.code = ErrorCode::uri_too_long;
      e.detail = "request line too long";
      break;
    case http::HeadError::headers_too_large:
      e.code = ErrorCode::headers_too_large;
      e.detail = "request header fields too large";
      break;
    case http::HeadError::not_implemented:
      e.code = ErrorCode::not_implemented;
      e.detail = "transfer coding not supported";
      break;
    case http::HeadError::connect:
      e.code = ErrorCode::not_implemented;
      e.detail = "CONNECT is not supported";
      break;
    default:
      break;
  }
  return e;
}

}  // namespace gatehouse::proxy::errors
