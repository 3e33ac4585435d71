#include "ratelimit/key.hpp"

#include <boost/json.hpp>

#include "auth/base64url.hpp"

namespace gatehouse::ratelimit {

KeySpec KeySpec::parse(std::string_view text) {
  KeySpec k;
  if (text == "endpoint") {
    k.kind = Kind::endpoint;
  } else if (text.rfind("header:", 0) == 0) {
    k.kind = Kind::header;
    k.name = std::string(text.substr(7));
  } else if (text.rfind("jwt_claim:", 0) == 0) {
    k.kind = Kind::jwt_claim;
    k.name = std::string(text.substr(10));
  }
  return k;
}

namespace {

std::string_view field(std::span<const http::Field> fields, std::string_view name) {
  for (const auto& f : fields)
    if (f.name.size() == name.size() && http::iequals(f.name, name)) return f.value;
  return {};
}

void claim_of(std::span<const http::Field> fields, const std::string& name, std::string& out) {
  std::string_view credentials = field(fields, "authorization");
  const auto space = credentials.find(' ');
  if (space == std::string_view::npos) return;
  std::string_view token = credentials.substr(space + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return;
  std::string payload;
  if (!auth::base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), payload)) return;
  boost::system::error_code ec;
  const boost::json::value claims = boost::json::parse(payload, ec);
  if (ec || !claims.is_object()) return;
  const auto* v = claims.as_object().if_contains(name);
  if (!v || v->is_null()) return;
  if (v->is_string()) out.assign(v->as_string().data(), v->as_string().size());
  else out = boost::json::serialize(*v);
}

}  // namespace

std::string_view key_of(const KeySpec& spec, std::string_view client_ip,
                        std::span<const http::Field> fields, std::string& scratch) {
  switch (spec.kind) {
    case KeySpec::Kind::client_ip: return client_ip;
    case KeySpec::Kind::header: return field(fields, spec.name);
    case KeySpec::Kind::jwt_claim:
      scratch.clear();
      claim_of(fields, spec.name, scratch);
      return scratch;
    case KeySpec::Kind::endpoint: break;
  }
  return {};
}

}  // namespace gatehouse::ratelimit
