#include "config/keys.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <set>

namespace gatehouse::config::detail {
namespace {

constexpr int kMinRsaBits = 2048;

std::optional<std::string> base64url_decode(std::string_view in) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  if (in.size() % 4 == 1) return std::nullopt;
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;  // non-canonical
  return out;
}

// Bit length of a big-endian unsigned integer.
int bit_length(std::string_view bytes) {
  std::size_t i = 0;
  while (i < bytes.size() && bytes[i] == 0) ++i;
  if (i == bytes.size()) return 0;
  int bits = static_cast<int>((bytes.size() - i - 1) * 8);
  for (auto b = static_cast<unsigned char>(bytes[i]); b != 0; b >>= 1) ++bits;
  return bits;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

}  // namespace

const std::vector<std::string_view>& supported_algorithms() {
  static const std::vector<std::string_view> algs = {
      "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256",
      "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"};
  return algs;
}

bool is_supported_algorithm(std::string_view alg) {
  const auto& algs = supported_algorithms();
  return std::find(algs.begin(), algs.end(), alg) != algs.end();
}

bool is_hmac_algorithm(std::string_view alg) { return alg.substr(0, 2) == "HS"; }

std::string_view key_needed_for(std::string_view alg) {
  if (alg.substr(0, 2) == "RS" || alg.substr(0, 2) == "PS") return "an RSA key";
  if (alg == "ES256") return "a P-256 EC key";
  if (alg == "ES384") return "a P-384 EC key";
  if (alg == "ES512") return "a P-521 EC key";
  if (alg == "EdDSA") return "an Ed25519 key";
  return "an HMAC secret";
}

bool key_fits(const KeyInfo& key, std::string_view alg) {
  if (!key.alg.empty() && key.alg != alg) return false;
  const auto family = alg.substr(0, 2);
  switch (key.kind) {
    case KeyKind::rsa: return family == "RS" || family == "PS";
    case KeyKind::rsa_pss: return family == "PS";
    case KeyKind::ec_p256: return alg == "ES256";
    case KeyKind::ec_p384: return alg == "ES384";
    case KeyKind::ec_p521: return alg == "ES512";
    case KeyKind::ed25519: return alg == "EdDSA";
  }
  return false;
}

std::vector<std::string> inspect_pem(std::string_view pem, std::vector<KeyInfo>& keys) {
  std::vector<std::string> problems;
  if (pem.find("PRIVATE KEY-----") != std::string_view::npos) {
    problems.emplace_back("holds a private key; give the public key only");
    return problems;
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::bad_alloc();
  int index = 0;
  for (;; ++index) {
    std::unique_ptr<EVP_PKEY, PkeyFree> key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!key) break;
    const std::string where = "key " + std::to_string(index + 1) + ": ";
    switch (EVP_PKEY_get_base_id(key.get())) {
      case EVP_PKEY_RSA:
      case EVP_PKEY_RSA_PSS: {
        const int bits = EVP_PKEY_get_bits(key.get());
        if (bits < kMinRsaBits) {
          problems.push_back(where + "RSA key of " + std::to_string(bits) +
                             " bits is too small (at least 2048)");
        } else {
          keys.push_back({EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA ? KeyKind::rsa
                                                                          : KeyKind::rsa_pss,
                          ""});
        }
        break;
      }
      case EVP_PKEY_EC: {
        char group[64] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_group_name(key.get(), group, sizeof group, &len) != 1) group[0] = 0;
        const std::string_view g(group);
        if (g == "prime256v1" || g == "P-256") keys.push_back({KeyKind::ec_p256, ""});
        else if (g == "secp384r1" || g == "P-384") keys.push_back({KeyKind::ec_p384, ""});
        else if (g == "secp521r1" || g == "P-521") keys.push_back({KeyKind::ec_p521, ""});
        else problems.push_back(where + "unsupported EC curve " + std::string(g));
        break;
      }
      case EVP_PKEY_ED25519:
        keys.push_back({KeyKind::ed25519, ""});
        break;
      default:
        problems.push_back(where + "unsupported key type");
    }
  }
  ERR_clear_error();  // the read that ended the loop left an error behind
  if (index == 0) {
    problems.emplace_back("holds no PEM public key (-----BEGIN PUBLIC KEY-----)");
  }
  return problems;
}

namespace {

// Checks one JWKS key; on success appends it to `keys`.
void inspect_jwk(const boost::json::object& jwk, const std::string& where,
                 std::vector<KeyInfo>& keys, std::vector<std::string>& problems) {
  auto member = [&](const char* name) -> std::optional<std::string> {
    const auto* v = jwk.if_contains(name);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      problems.push_back(where + "\"" + name + "\" must be a string");
      return std::string();
    }
    return std::string(v->as_string());
  };
  auto b64_member = [&](const char* name) -> std::optional<std::string> {
    auto text = member(name);
    if (!text) {
      problems.push_back(where + "missing \"" + name + "\"");
      return std::nullopt;
    }
    auto bytes = base64url_decode(*text);
    if (!bytes || bytes->empty()) {
      problems.push_back(where + "\"" + name + "\" is not base64url");
      return std::nullopt;
    }
    return bytes;
  };

  if (auto use = member("use"); use && *use != "sig") return;  // not a signing key
  if (jwk.contains("d")) {
    problems.push_back(where + "holds private key material (\"d\"); publish public keys only");
    return;
  }
  const auto kty = member("kty");
  if (!kty) {
    problems.push_back(where + "missing \"kty\"");
    return;
  }
  const auto alg = member("alg").value_or("");
  if (!alg.empty() && !is_supported_algorithm(alg)) {
    problems.push_back(where + "unsupported \"alg\" \"" + alg + "\"");
    return;
  }
  std::optional<KeyKind> kind;
  if (*kty == "RSA") {
    auto n = b64_member("n");
    auto e = b64_member("e");
    if (!n || !e) return;
    if (const int bits = bit_length(*n); bits < kMinRsaBits) {
      problems.push_back(where + "RSA key of " + std::to_string(bits) +
                         " bits is too small (at least 2048)");
      return;
    }
    kind = KeyKind::rsa;
  } else if (*kty == "EC") {
    const auto crv = member("crv").value_or("");
    std::size_t size = 0;
    if (crv == "P-256") kind = KeyKind::ec_p256, size = 32;
    else if (crv == "P-384") kind = KeyKind::ec_p384, size = 48;
    else if (crv == "P-521") kind = KeyKind::ec_p521, size = 66;
    else {
      problems.push_back(where + "unsupported EC \"crv\" \"" + crv + "\"");
      return;
    }
    auto x = b64_member("x");
    auto y = b64_member("y");
    if (!x || !y) return;
    if (x->size() != size || y->size() != size) {
      problems.push_back(where + "\"x\"/\"y\" do not fit curve " + crv);
      return;
    }
  } else if (*kty == "OKP") {
    const auto crv = member("crv").value_or("");
    if (crv != "Ed25519") {
      problems.push_back(where + "unsupported OKP \"crv\" \"" + crv + "\" (only Ed25519)");
      return;
    }
    auto x = b64_member("x");
    if (!x) return;
    if (x->size() != 32) {
      problems.push_back(where + "\"x\" is not an Ed25519 public key");
      return;
    }
    kind = KeyKind::ed25519;
  } else if (*kty == "oct") {
    problems.push_back(where +
                       "symmetric keys (kty \"oct\") are not accepted; use hmac_secret_env or "
                       "hmac_secret_file");
    return;
  } else {
    problems.push_back(where + "unsupported \"kty\" \"" + *kty + "\"");
    return;
  }
  KeyInfo info{*kind, alg};
  if (!alg.empty() && !key_fits(info, alg)) {
    problems.push_back(where + "\"alg\" " + alg + " does not fit a key of kty " + *kty);
    return;
  }
  keys.push_back(std::move(info));
}

}  // namespace

std::vector<std::string> inspect_jwks(std::string_view json, std::vector<KeyInfo>& keys) {
  std::vector<std::string> problems;
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(boost::json::string_view(json.data(), json.size()), ec);
  if (ec) {
    problems.push_back("is not valid JSON: " + ec.message());
    return problems;
  }
  const auto* obj = doc.if_object();
  const auto* list = obj ? obj->if_contains("keys") : nullptr;
  if (!list || !list->is_array()) {
    problems.emplace_back("must be a JWKS document: {\"keys\": [...]}");
    return problems;
  }
  std::set<std::string> kids;
  std::size_t i = 0;
  for (const auto& entry : list->as_array()) {
    const std::string where = "keys[" + std::to_string(i++) + "]: ";
    if (!entry.is_object()) {
      problems.push_back(where + "must be an object");
      continue;
    }
    const auto& jwk = entry.as_object();
    if (const auto* kid = jwk.if_contains("kid")) {
      if (!kid->is_string()) {
        problems.push_back(where + "\"kid\" must be a string");
        continue;
      }
      if (!kids.insert(std::string(kid->as_string())).second) {
        problems.push_back(where + "duplicate \"kid\" \"" + std::string(kid->as_string()) + "\"");
        continue;
      }
    }
    inspect_jwk(jwk, where, keys, problems);
  }
  return problems;
}

int count_pem_certificates(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::bad_alloc();
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_free(cert);
    ++count;
  }
  ERR_clear_error();
  return count;
}

}  // namespace gatehouse::config::detail
