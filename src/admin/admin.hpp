// admin/: the gateway's own API: /endpoints/stats, /endpoints/stats/{id}, bearer-token
// authorisation (RFC 6750) for it and for `auth_type: jwt` endpoints. Handlers are pure:
// they produce a Reply that the server writes.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "auth/verifier.hpp"
#include "common/problem.hpp"
#include "config/diff.hpp"
#include "http/message.hpp"
#include "registry/snapshot.hpp"

namespace gatehouse::admin {

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string extra_headers;  // complete "Name: value\r\n" lines
  // Set when the reply is a gateway error (problem+json is built by the server, which
  // knows the request id).
  bool is_error = false;
  ErrorCode code = ErrorCode::internal_error;
  std::string detail;
  // A problem+json body built here (not by the server): its code, for the error metrics.
  std::optional<ErrorCode> problem;
};

Reply error_reply(ErrorCode code, std::string detail, std::string extra_headers = {});

// --- authorisation ------------------------------------------------------------------
enum class AuthVerdict { ok, missing, invalid, insufficient_scope };

struct AuthOutcome {
  AuthVerdict verdict = AuthVerdict::ok;
  std::string missing_scope;  // for insufficient_scope
  std::string reason;         // why a token was refused, for debug logs only
};

// Checks `Authorization: Bearer <token>` against the verifier and requires every scope
// in `required` (empty strings are ignored).
AuthOutcome authorize(const auth::Verifier& verifier, std::span<const http::Field> fields,
                      std::span<const std::string> required);

// The RFC 6750 answer for a refusal: 401 with WWW-Authenticate (no error code when the
// token is missing, error="invalid_token" when it is bad) or 403 insufficient_scope.
Reply auth_failure_reply(const AuthOutcome& outcome);

// --- stats API ------------------------------------------------------------------------
struct ConfigInfo {
  std::string path;
  std::uint64_t version = 1;
  std::chrono::system_clock::time_point loaded_at{};
  std::string sha256;
};

// GET /endpoints/stats[?status=...&health=...] (SPEC section 7).
Reply stats_all(const registry::Snapshot& snap, const ConfigInfo& info, std::string_view query);
// GET /endpoints/stats/{id}; `encoded_id` is the path segment (percent-encoded).
Reply stats_one(const registry::Snapshot& snap, std::string_view encoded_id);

// A 422 lists at most this many errors (the first ones by position); `error_count` is
// the total.
inline constexpr std::size_t kMaxListedErrors = 1000;

// POST /endpoints/reload: 200 with the report of SPEC section 7, or 422 invalid_config
// (problem+json with the errors and error_count) when the file was refused and the old
// config kept.
Reply reload_reply(bool ok, bool applied, std::uint64_t config_version,
                   const config::ConfigDiff& diff, const std::vector<config::ConfigError>& errors,
                   std::string_view request_id);

}  // namespace gatehouse::admin
