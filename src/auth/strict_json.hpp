// auth/: a JSON parser for untrusted JOSE input. boost::json::parse keeps the last of
// two equal member names; a JWT verifier must not (RFC 7515 section 5.2 allows
// rejecting, and two readers keeping different duplicates is a known bypass).
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

namespace gatehouse::auth {

enum class JsonError { ok, syntax, duplicate_member, too_deep };

struct JsonResult {
  JsonError error = JsonError::ok;
  std::string detail;  // for debug logs: the duplicate name or the parser's message
};

// Parses one JSON document (RFC 8259: no comments, no trailing commas, valid UTF-8,
// nothing after it but whitespace). Rejects a repeated member name in any object at
// any depth, compared after unescaping. Never throws.
JsonResult parse_strict_json(std::string_view text, boost::json::value& out);

}  // namespace gatehouse::auth
