// auth: jwt (algorithm allow-list, secrets, keys) and the gateway API scopes.
#include <array>
#include <cctype>
#include <cstdlib>

#include "config/addresses.hpp"
#include "config/did_you_mean.hpp"
#include "config/files.hpp"
#include "config/keys.hpp"
#include "config/sections.hpp"

namespace gatehouse::config::detail {
namespace {

constexpr std::array<std::string_view, 2> kAuthKeys = {"jwt", "scopes"};
constexpr std::array<std::string_view, 9> kJwtKeys = {
    "algorithms", "hmac_secret_env", "hmac_secret_file", "public_key_file", "jwks_file",
    "issuer",     "audience",        "leeway",           "scope_claim"};
constexpr std::array<std::string_view, 3> kScopeKeys = {"stats", "reload", "metrics"};
constexpr std::size_t kMinHmacSecret = 32;

struct AlgItem {
  std::string alg;
  Value value;
};

std::vector<AlgItem> parse_algorithms(Context& ctx, const MapReader& m) {
  std::vector<AlgItem> out;
  const Entry* e = m.find("algorithms");
  if (!e) {
    ctx.errors.add(m.key_path("algorithms"), m.pos(),
                   "is required: the algorithms tokens may be signed with");
    return out;
  }
  auto items = as_string_list(ctx.errors, e->value);
  if (!items) return out;
  if (e->value.node.size() == 0) ctx.errors.add(e->value.path, e->value.pos, "must list at least one algorithm");
  for (auto& [alg, value] : *items) {
    std::string lower = alg;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "none") {
      ctx.errors.add(value, "is never accepted: a token signed with it carries no signature");
      continue;
    }
    if (!is_supported_algorithm(alg)) {
      std::string message = "unsupported algorithm";
      if (auto hint = suggest(alg, supported_algorithms()); !hint.empty()) {
        message += "; did you mean " + quoted(hint) + "?";
      } else {
        message += "; expected one of HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 "
                   "ES256 ES384 ES512 EdDSA";
      }
      ctx.errors.add(value, std::move(message));
      continue;
    }
    bool seen = false;
    for (const auto& a : out) seen = seen || a.alg == alg;
    if (!seen) out.push_back({alg, std::move(value)});
  }
  return out;
}

// Resolves the HMAC secret; returns the entry that supplied it, or nullptr.
const Entry* resolve_secret(Context& ctx, const MapReader& m, Jwt& jwt) {
  const Entry* env = m.find("hmac_secret_env");
  const Entry* file = m.find("hmac_secret_file");
  if (env && file) {
    ctx.errors.add(file->value.path, file->key_pos,
                   "set either hmac_secret_env or hmac_secret_file, not both");
    return nullptr;
  }
  if (env) {
    auto name = as_string(ctx.errors, env->value);
    if (!name) return nullptr;
    jwt.hmac_secret_env = *name;
    const char* value = std::getenv(name->c_str());
    if (!value) {
      ctx.errors.add(env->value, "environment variable is not set");
      return nullptr;
    }
    jwt.hmac_secret = value;
    return env;
  }
  if (file) {
    auto name = as_string(ctx.errors, file->value);
    if (!name) return nullptr;
    std::string resolved;
    auto bytes = ctx.read_referenced_file(file->value, *name, resolved);
    jwt.hmac_secret_file = resolved;
    if (!bytes) return nullptr;
    // A secret written with `echo` ends in a newline that is not part of it.
    if (!bytes->empty() && bytes->back() == '\n') bytes->pop_back();
    if (!bytes->empty() && bytes->back() == '\r') bytes->pop_back();
    jwt.hmac_secret = std::move(*bytes);
    return file;
  }
  return nullptr;
}

// Reads public_key_file or jwks_file; returns the entry the keys came from, or nullptr
// when there is none or it could not be used (already reported).
const Entry* resolve_keys(Context& ctx, const MapReader& m, Jwt& jwt, std::vector<KeyInfo>& keys,
                          bool& failed) {
  const Entry* pem = m.find("public_key_file");
  const Entry* jwks = m.find("jwks_file");
  failed = false;
  if (pem && jwks) {
    ctx.errors.add(jwks->value.path, jwks->key_pos,
                   "set either public_key_file or jwks_file, not both");
    failed = true;
    return nullptr;
  }
  const Entry* source = pem ? pem : jwks;
  if (!source) return nullptr;
  failed = true;
  auto name = as_string(ctx.errors, source->value);
  if (!name) return nullptr;
  std::string resolved;
  auto bytes = ctx.read_referenced_file(source->value, *name, resolved);
  (pem ? jwt.public_key_file : jwt.jwks_file) = resolved;
  if (!bytes) return nullptr;
  jwt.key_sha256 = sha256_hex(*bytes);  // a reload notices a rotated key file
  const auto problems = pem ? inspect_pem(*bytes, keys) : inspect_jwks(*bytes, keys);
  for (const auto& p : problems) {
    ctx.errors.add(source->value.path, source->value.pos, resolved + ": " + p);
  }
  if (!problems.empty()) return nullptr;
  failed = false;
  return source;
}

void parse_jwt(Context& ctx, const Value& v, Auth& auth) {
  const MapReader m(ctx.errors, v, kJwtKeys);
  if (!m.ok()) return;
  Jwt jwt;
  const auto algs = parse_algorithms(ctx, m);
  for (const auto& a : algs) jwt.algorithms.push_back(a.alg);

  const Entry* secret = resolve_secret(ctx, m, jwt);
  const bool secret_configured = m.has("hmac_secret_env") || m.has("hmac_secret_file");
  std::vector<KeyInfo> keys;
  bool keys_failed = false;
  const Entry* key_source = resolve_keys(ctx, m, jwt, keys, keys_failed);

  bool secret_checked = false;
  for (const auto& a : algs) {
    if (is_hmac_algorithm(a.alg)) {
      if (!secret_configured) {
        ctx.errors.add(a.value.path, a.value.pos,
                       a.alg + " needs an HMAC secret: set hmac_secret_env or hmac_secret_file");
      } else if (secret && !secret_checked && jwt.hmac_secret.size() < kMinHmacSecret) {
        ctx.errors.add(secret->value.path, secret->value.pos,
                       "the HMAC secret is " + std::to_string(jwt.hmac_secret.size()) +
                           " bytes; " + a.alg + " needs at least 32");
      }
      secret_checked = secret_checked || secret != nullptr;
      continue;
    }
    const std::string needed(key_needed_for(a.alg));
    if (!m.has("public_key_file") && !m.has("jwks_file")) {
      ctx.errors.add(a.value.path, a.value.pos,
                     a.alg + " needs " + needed + ": set public_key_file or jwks_file");
      continue;
    }
    if (keys_failed || !key_source) continue;  // the key file's own error says enough
    bool fits = false;
    for (const auto& k : keys) fits = fits || key_fits(k, a.alg);
    if (!fits) {
      ctx.errors.add(a.value.path, a.value.pos,
                     a.alg + " needs " + needed + ", and " + key_source->key + " has none");
    }
  }

  if (auto s = m.string("issuer")) jwt.issuer = *s;
  if (auto s = m.string("audience")) jwt.audience = *s;
  MapReader::assign(jwt.leeway, m.duration("leeway", true));
  MapReader::assign(jwt.scope_claim, m.string("scope_claim"));
  auth.jwt = std::move(jwt);
}

void parse_scopes(Context& ctx, const Value& v, Scopes& scopes) {
  const MapReader m(ctx.errors, v, kScopeKeys);
  if (!m.ok()) return;
  for (auto key : kScopeKeys) {
    auto s = m.string(key, true);
    if (!s) continue;
    if (has_space_or_control(*s)) {
      ctx.errors.add(m.find(key)->value,
                     "must be a single scope (no spaces); \"\" means no token needed");
      continue;
    }
    (key == "stats" ? scopes.stats : key == "reload" ? scopes.reload : scopes.metrics) = *s;
  }
}

}  // namespace

void parse_auth(Context& ctx, const Value& v, Auth& auth) {
  const MapReader m(ctx.errors, v, kAuthKeys);
  if (!m.ok()) return;
  if (const Entry* e = m.find("jwt")) parse_jwt(ctx, e->value, auth);
  if (const Entry* e = m.find("scopes")) parse_scopes(ctx, e->value, auth.scopes);
}

}  // namespace gatehouse::config::detail
