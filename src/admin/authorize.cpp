#include "admin/admin.hpp"
#include "auth/scopes.hpp"

namespace gatehouse::admin {

Reply error_reply(ErrorCode code, std::string detail, std::string extra_headers) {
  Reply r;
  r.is_error = true;
  r.code = code;
  r.status = status_of(code);
  r.detail = std::move(detail);
  r.extra_headers = std::move(extra_headers);
  return r;
}

AuthOutcome authorize(const auth::Verifier& verifier, std::span<const http::Field> fields,
                      std::span<const std::string> required) {
  AuthOutcome out;
  std::string_view credentials;
  int count = 0;
  for (const auto& f : fields) {
    if (f.name.size() == 13 && http::iequals(f.name, "authorization")) {
      credentials = f.value;
      ++count;
    }
  }
  if (count == 0) {
    out.verdict = AuthVerdict::missing;
    return out;
  }
  if (count > 1) {
    out.verdict = AuthVerdict::invalid;
    out.reason = "several Authorization fields";
    return out;
  }
  // auth-scheme is case-insensitive (RFC 9110 11.1); anything but Bearer carries no token.
  const auto space = credentials.find(' ');
  if (space == std::string_view::npos || !http::iequals(credentials.substr(0, space), "bearer")) {
    out.verdict = AuthVerdict::missing;
    return out;
  }
  std::string_view token = credentials.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  if (token.empty()) {
    out.verdict = AuthVerdict::invalid;
    out.reason = "empty bearer token";
    return out;
  }
  const auto result = verifier.verify(token);
  if (!result.ok()) {
    out.verdict = AuthVerdict::invalid;
    out.reason = std::string(auth::to_string(result.error));
    if (!result.reason.empty()) out.reason += ": " + result.reason;
    return out;
  }
  // The first required scope the token lacks (empty requirements are ignored), with no
  // copy of the list: most endpoints require none.
  for (const auto& s : required) {
    if (s.empty() || auth::has_scope(result.token->scopes, s)) continue;
    out.verdict = AuthVerdict::insufficient_scope;
    out.missing_scope = s;
    out.reason = "token lacks scope " + s;
    break;
  }
  return out;
}

Reply auth_failure_reply(const AuthOutcome& outcome) {
  switch (outcome.verdict) {
    case AuthVerdict::missing:
      return error_reply(ErrorCode::unauthorized, "a bearer token is required",
                         "WWW-Authenticate: Bearer realm=\"gatehouse\"\r\n");
    case AuthVerdict::invalid:
      return error_reply(ErrorCode::unauthorized, "the bearer token is not valid",
                         "WWW-Authenticate: Bearer realm=\"gatehouse\", error=\"invalid_token\"\r\n");
    case AuthVerdict::insufficient_scope:
      return error_reply(ErrorCode::forbidden, "the bearer token lacks a required scope",
                         "WWW-Authenticate: Bearer realm=\"gatehouse\", error=\"insufficient_scope\", "
                         "scope=\"" + outcome.missing_scope + "\"\r\n");
    case AuthVerdict::ok:
      break;
  }
  return error_reply(ErrorCode::internal_error, "no authorisation failure");
}

}  // namespace gatehouse::admin
