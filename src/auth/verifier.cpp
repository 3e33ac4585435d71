#include "auth/verifier.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>

#include "auth/base64url.hpp"
#include "auth/scopes.hpp"
#include "auth/signature.hpp"
#include "auth/strict_json.hpp"
#include "auth/token_cache.hpp"
#include "common/ascii.hpp"

namespace gatehouse::auth {
namespace {

VerifyResult fail(VerifyError e, std::string reason) { return {e, std::move(reason), nullptr}; }

std::atomic<std::uint64_t> next_generation{1};

std::uint64_t new_generation() { return next_generation.fetch_add(1, std::memory_order_relaxed); }

// Each thread's front of the verified-token caches: a small direct-mapped table of the
// tokens it accepted last, looked at before the shared cache, which costs a lock, a
// hash table and an LRU update per hit. An entry is good only while its verifier's
// generation is the one it was stored under (clear_cache draws a new one; a new
// verifier, after a reload or a key change, has its own), and exp/nbf are re-checked on
// every hit as for the shared cache; a thread that finds a token expired empties its
// slot. Only short tokens go in (the table's memory stays under kFrontSlots x
// kMaxFrontToken per thread). A front hit does not refresh the token's place in the
// shared cache's LRU: a token used only through fronts may leave the shared cache, and
// is verified again once its slot has gone to another token.
constexpr std::size_t kFrontSlots = 128;
constexpr std::size_t kMaxFrontToken = 1024;

struct FrontEntry {
  std::uint64_t generation = 0;  // 0: empty
  std::string token;
  std::shared_ptr<const VerifiedToken> value;

  void fill(std::uint64_t g, std::string_view t, std::shared_ptr<const VerifiedToken> v) {
    generation = g;
    token.assign(t);  // the slot's earlier room, mostly
    value = std::move(v);
  }
};

// The slot of `token`, from its last 16 bytes (the signature's: see token_cache.cpp)
// and its length.
FrontEntry& front_slot(std::string_view token) {
  static thread_local std::array<FrontEntry, kFrontSlots> front;
  std::uint64_t h = token.size();
  if (token.size() >= 16) {
    const char* end = token.data() + token.size();
    const std::uint64_t last = gatehouse::detail::load8(end - 8);
    h ^= gatehouse::detail::load8(end - 16) ^ ((last << 29) | (last >> 35));
  } else {
    for (char c : token) h = h * 131 + static_cast<unsigned char>(c);
  }
  h *= 0x9E3779B97F4A7C15ull;
  return front[h >> 57];  // the top 7 bits: 128 slots
}

std::string_view view(const boost::json::string& s) { return {s.data(), s.size()}; }

// Token text quoted in a reason: at most 32 printable ASCII characters, so a debug log
// line cannot be forged or flooded through a member name.
std::string quote(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 32)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (text.size() > 32) out += "...";
  return out;
}

// Parses a decoded header or claims segment; `what` names it in reasons.
VerifyResult parse_object(std::string_view text, const char* what, boost::json::value& out) {
  const auto r = parse_strict_json(text, out);
  if (r.error == JsonError::duplicate_member) {
    return fail(VerifyError::duplicate_member,
                std::string("duplicate ") + what + " member \"" + quote(r.detail) + "\"");
  }
  if (r.error != JsonError::ok) {
    return fail(VerifyError::bad_json, std::string(what) + " is not JSON: " + r.detail);
  }
  if (!out.is_object()) return fail(VerifyError::bad_json, std::string(what) + " is not an object");
  return {};
}

// A NumericDate (RFC 7519 section 2): an integer or a finite float. 0 absent, 1 ok, -1 bad.
int numeric_date(const boost::json::object& claims, const char* name, double& out) {
  const auto* v = claims.if_contains(name);
  if (!v) return 0;
  if (v->is_int64()) out = static_cast<double>(v->get_int64());
  else if (v->is_uint64()) out = static_cast<double>(v->get_uint64());
  else if (v->is_double()) out = v->get_double();
  else return -1;
  return std::isfinite(out) ? 1 : -1;
}

struct Header {
  Alg alg = Alg::HS256;
  std::optional<std::string_view> kid;
};

VerifyResult check_header(const boost::json::object& h, AlgSet allowed, Header& out) {
  const auto* alg = h.if_contains("alg");
  if (!alg) return fail(VerifyError::bad_header, "no alg");
  if (!alg->is_string()) return fail(VerifyError::bad_header, "alg is not a string");
  const auto name = view(alg->get_string());
  if (iequals(name, "none")) return fail(VerifyError::alg_none, "alg none");
  const auto parsed = alg_from_name(name);
  if (!parsed || !allowed.contains(*parsed)) {
    return fail(VerifyError::alg_not_allowed, "alg " + quote(name) + " not allowed");
  }
  out.alg = *parsed;
  if (const auto* crit = h.if_contains("crit")) {
    // RFC 7515 4.1.11: a non-empty array of names. We implement no extension, so a
    // well-formed crit is refused as unsupported and anything else as malformed.
    const auto* list = crit->if_array();
    if (!list || list->empty()) return fail(VerifyError::bad_header, "crit is not a non-empty array");
    for (const auto& item : *list) {
      if (!item.is_string()) return fail(VerifyError::bad_header, "crit holds a non-string");
    }
    return fail(VerifyError::crit_unsupported, "crit extension not understood");
  }
  if (const auto* b64 = h.if_contains("b64"); b64 && !(b64->is_bool() && b64->get_bool())) {
    return fail(VerifyError::bad_header, "b64 is not true");  // RFC 7797 unencoded payloads
  }
  if (const auto* kid = h.if_contains("kid")) {
    if (!kid->is_string()) return fail(VerifyError::bad_header, "kid is not a string");
    out.kid = view(kid->get_string());
  }
  // jku, x5u, jwk, x5c: never read. The key always comes from the configuration.
  return {};
}

VerifyResult selection_error(KeySelection why, const Header& h) {
  switch (why) {
    case KeySelection::unknown_kid: return fail(VerifyError::unknown_kid, "unknown kid");
    case KeySelection::kid_alg_mismatch:
      return fail(VerifyError::key_alg_mismatch,
                  "kid names a key not bound to " + std::string(alg_name(h.alg)));
    case KeySelection::ambiguous:
      return fail(VerifyError::ambiguous_key,
                  "no kid and several keys fit " + std::string(alg_name(h.alg)));
    case KeySelection::no_key:
    case KeySelection::ok: break;
  }
  return fail(VerifyError::no_key, "no key for " + std::string(alg_name(h.alg)));
}

}  // namespace

std::string_view to_string(VerifyError e) {
  switch (e) {
    case VerifyError::ok: return "ok";
    case VerifyError::too_large: return "too_large";
    case VerifyError::malformed: return "malformed";
    case VerifyError::bad_encoding: return "bad_encoding";
    case VerifyError::bad_json: return "bad_json";
    case VerifyError::duplicate_member: return "duplicate_member";
    case VerifyError::bad_header: return "bad_header";
    case VerifyError::alg_none: return "alg_none";
    case VerifyError::alg_not_allowed: return "alg_not_allowed";
    case VerifyError::crit_unsupported: return "crit_unsupported";
    case VerifyError::unknown_kid: return "unknown_kid";
    case VerifyError::no_key: return "no_key";
    case VerifyError::ambiguous_key: return "ambiguous_key";
    case VerifyError::key_alg_mismatch: return "key_alg_mismatch";
    case VerifyError::bad_signature: return "bad_signature";
    case VerifyError::signature_mismatch: return "signature_mismatch";
    case VerifyError::bad_claims: return "bad_claims";
    case VerifyError::expired: return "expired";
    case VerifyError::not_yet_valid: return "not_yet_valid";
    case VerifyError::issued_in_future: return "issued_in_future";
    case VerifyError::wrong_issuer: return "wrong_issuer";
    case VerifyError::wrong_audience: return "wrong_audience";
  }
  return "?";
}

std::unique_ptr<Verifier> Verifier::create(const config::Jwt& jwt,
                                           std::shared_ptr<const Clock> clock,
                                           std::string& error, std::size_t cache_capacity) {
  auto keys = KeySet::from_config(jwt, error);
  if (!keys) return nullptr;
  return std::make_unique<Verifier>(jwt, std::move(*keys), std::move(clock), cache_capacity);
}

Verifier::Verifier(const config::Jwt& jwt, KeySet keys, std::shared_ptr<const Clock> clock,
                   std::size_t cache_capacity)
    : keys_(std::move(keys)),
      issuer_(jwt.issuer),
      audience_(jwt.audience),
      leeway_(std::chrono::duration<double>(jwt.leeway).count()),
      scope_claim_(jwt.scope_claim),
      clock_(clock ? std::move(clock) : real_clock()),
      generation_(new_generation()) {
  for (const auto& name : jwt.algorithms) {
    if (const auto a = alg_from_name(name)) allowed_.add(*a);
  }
  if (cache_capacity > 0) cache_ = std::make_unique<TokenCache>(cache_capacity);
}

Verifier::~Verifier() = default;

VerifyResult Verifier::check_times(double exp, std::optional<double> nbf, double now) const {
  if (!(now < exp + leeway_)) return fail(VerifyError::expired, "expired");
  if (nbf && *nbf > now + leeway_) return fail(VerifyError::not_yet_valid, "nbf in the future");
  return {};
}

VerifyResult Verifier::verify(std::string_view token) const {
  if (!cache_ || token.size() > kMaxTokenSize) return verify_uncached(token);
  // Read before any lookup: a clear meanwhile makes what is stored below stale at once.
  const std::uint64_t generation = generation_.load(std::memory_order_acquire);
  FrontEntry* slot = token.size() <= kMaxFrontToken ? &front_slot(token) : nullptr;
  std::shared_ptr<const VerifiedToken> hit;
  if (slot && slot->generation == generation && slot->token == token) {
    hit = slot->value;
  } else if ((hit = cache_->find(token))) {
    if (slot) slot->fill(generation, token, hit);
  }
  if (hit) {
    auto r = check_times(hit->exp, hit->nbf, to_numeric_date(clock_->system_now()));
    if (!r.ok()) {
      if (r.error == VerifyError::expired) {
        cache_->erase(token);
        // Other threads' fronts find it expired themselves.
        if (slot) slot->generation = 0;
      }
      return r;
    }
    r.token = std::move(hit);
    return r;
  }
  auto r = verify_uncached(token);
  if (r.ok()) {
    cache_->insert(token, r.token);
    if (slot) slot->fill(generation, token, r.token);
  }
  return r;
}

VerifyResult Verifier::verify_uncached(std::string_view token) const {
  if (token.size() > kMaxTokenSize) return fail(VerifyError::too_large, "token over 8 KiB");
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return fail(VerifyError::malformed, "not three segments");
  if (token.find('.', dot2 + 1) != std::string_view::npos) {
    const auto dots = std::count(token.begin(), token.end(), '.');
    return fail(VerifyError::malformed,
                dots == 4 ? "five segments: JWE is not accepted" : "more than three segments");
  }
  const auto header_b64 = token.substr(0, dot1);
  const auto payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const auto sig_b64 = token.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty()) {
    return fail(VerifyError::malformed, "empty header or payload");
  }

  std::string header_text;
  if (!base64url_decode(header_b64, header_text)) {
    return fail(VerifyError::bad_encoding, "header is not base64url");
  }
  boost::json::value header_doc;
  if (auto r = parse_object(header_text, "header", header_doc); !r.ok()) return r;
  Header header;
  if (auto r = check_header(header_doc.get_object(), allowed_, header); !r.ok()) return r;

  if (sig_b64.empty()) return fail(VerifyError::malformed, "no signature");
  std::string signature;
  if (!base64url_decode(sig_b64, signature)) {
    return fail(VerifyError::bad_encoding, "signature is not base64url");
  }
  KeySelection why{};
  const Key* key = keys_.select(header.alg, header.kid, why);
  if (!key) return selection_error(why, header);
  switch (verify_signature(header.alg, *key, token.substr(0, dot2), signature)) {
    case SignatureCheck::ok: break;
    case SignatureCheck::malformed:
      return fail(VerifyError::bad_signature,
                  "signature malformed for " + std::string(alg_name(header.alg)));
    case SignatureCheck::mismatch:
      return fail(VerifyError::signature_mismatch, "signature does not verify");
  }
  return check_claims(payload_b64, header.alg, header.kid.value_or(""));
}

VerifyResult Verifier::check_claims(std::string_view payload_b64, Alg alg,
                                    std::string_view kid) const {
  std::string text;
  if (!base64url_decode(payload_b64, text)) {
    return fail(VerifyError::bad_encoding, "payload is not base64url");
  }
  boost::json::value doc;
  if (auto r = parse_object(text, "claims", doc); !r.ok()) return r;
  const auto& claims = doc.get_object();

  auto token = std::make_shared<VerifiedToken>();
  double exp = 0, nbf = 0, iat = 0;
  const int has_exp = numeric_date(claims, "exp", exp);
  const int has_nbf = numeric_date(claims, "nbf", nbf);
  const int has_iat = numeric_date(claims, "iat", iat);
  if (has_exp == 0) return fail(VerifyError::bad_claims, "no exp");
  if (has_exp < 0 || has_nbf < 0 || has_iat < 0) {
    return fail(VerifyError::bad_claims, "exp, nbf or iat is not a finite number");
  }
  token->exp = exp;
  if (has_nbf) token->nbf = nbf;
  const double now = to_numeric_date(clock_->system_now());
  if (auto r = check_times(exp, token->nbf, now); !r.ok()) return r;
  if (has_iat && iat > now + leeway_) return fail(VerifyError::issued_in_future, "iat in the future");

  const auto* iss = claims.if_contains("iss");
  if (iss && !iss->is_string()) return fail(VerifyError::bad_claims, "iss is not a string");
  if (issuer_ && (!iss || view(iss->get_string()) != *issuer_)) {
    return fail(VerifyError::wrong_issuer, iss ? "iss does not match" : "no iss");
  }

  bool audience_found = false;
  if (const auto* aud = claims.if_contains("aud")) {
    auto matches = [&](const boost::json::value& v) {
      return audience_ && view(v.get_string()) == *audience_;
    };
    if (aud->is_string()) {
      audience_found = matches(*aud);
    } else if (const auto* list = aud->if_array()) {
      for (const auto& v : *list) {
        if (!v.is_string()) return fail(VerifyError::bad_claims, "aud holds a non-string");
        audience_found = audience_found || matches(v);
      }
    } else {
      return fail(VerifyError::bad_claims, "aud is neither a string nor an array");
    }
    if (audience_ && !audience_found) return fail(VerifyError::wrong_audience, "aud does not match");
  } else if (audience_) {
    return fail(VerifyError::wrong_audience, "no aud");
  }

  if (const auto* sub = claims.if_contains("sub")) {
    if (!sub->is_string()) return fail(VerifyError::bad_claims, "sub is not a string");
    token->subject = view(sub->get_string());
  }
  if (!extract_scopes(claims, scope_claim_, token->scopes)) {
    return fail(VerifyError::bad_claims, "scope claim is not a string or an array of strings");
  }
  token->alg = alg_name(alg);
  token->kid = kid;
  return {VerifyError::ok, {}, std::move(token)};
}

void Verifier::clear_cache() {
  if (cache_) cache_->clear();
  generation_.store(new_generation(), std::memory_order_release);
}

std::size_t Verifier::cache_size() const { return cache_ ? cache_->size() : 0; }

}  // namespace gatehouse::auth
