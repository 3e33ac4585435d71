#include "common/problem.hpp"

#include <boost/json.hpp>

namespace gatehouse {

int status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_request: return 400;
    case ErrorCode::unauthorized: return 401;
    case ErrorCode::forbidden: return 403;
    case ErrorCode::no_route: return 404;
    case ErrorCode::method_not_allowed: return 405;
    case ErrorCode::request_timeout: return 408;
    case ErrorCode::payload_too_large: return 413;
    case ErrorCode::uri_too_long: return 414;
    case ErrorCode::headers_too_large: return 431;
    case ErrorCode::rate_limited: return 429;
    case ErrorCode::internal_error: return 500;
    case ErrorCode::not_implemented: return 501;
    case ErrorCode::upstream_error: return 502;
    case ErrorCode::circuit_open: return 503;
    case ErrorCode::draining: return 503;
    case ErrorCode::rate_limit_unavailable: return 503;
    case ErrorCode::upstream_timeout: return 504;
    case ErrorCode::invalid_config: return 422;
  }
  return 500;
}

std::string_view code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_request: return "bad_request";
    case ErrorCode::unauthorized: return "unauthorized";
    case ErrorCode::forbidden: return "forbidden";
    case ErrorCode::no_route: return "no_route";
    case ErrorCode::method_not_allowed: return "method_not_allowed";
    case ErrorCode::request_timeout: return "request_timeout";
    case ErrorCode::payload_too_large: return "payload_too_large";
    case ErrorCode::uri_too_long: return "uri_too_long";
    case ErrorCode::headers_too_large: return "headers_too_large";
    case ErrorCode::rate_limited: return "rate_limited";
    case ErrorCode::internal_error: return "internal_error";
    case ErrorCode::not_implemented: return "not_implemented";
    case ErrorCode::upstream_error: return "upstream_error";
    case ErrorCode::circuit_open: return "circuit_open";
    case ErrorCode::draining: return "draining";
    case ErrorCode::rate_limit_unavailable: return "rate_limit_unavailable";
    case ErrorCode::upstream_timeout: return "upstream_timeout";
    case ErrorCode::invalid_config: return "invalid_config";
  }
  return "internal_error";
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

std::string problem_json(ErrorCode code, std::string_view detail,
                         std::string_view request_id, std::string_view endpoint) {
  const int status = status_of(code);
  boost::json::object body;
  body["type"] = "about:blank";
  body["title"] = reason_phrase(status);
  body["status"] = status;
  body["detail"] = detail;
  body["code"] = code_name(code);
  body["request_id"] = request_id;
  if (!endpoint.empty()) body["endpoint"] = endpoint;
  return boost::json::serialize(body);
}

}  // namespace gatehouse
