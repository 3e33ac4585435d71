#include "auth/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/rsa.h>

#include <array>
#include <cstring>

namespace gatehouse::auth {
namespace {

// The group order n of each curve, big-endian, padded to the coordinate size.
const std::string& curve_order(Alg alg) {
  static const std::array<std::string, 3> orders = [] {
    std::array<std::string, 3> out;
    const int nids[3] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1};
    const int sizes[3] = {32, 48, 66};
    for (int i = 0; i < 3; ++i) {
      EC_GROUP* group = EC_GROUP_new_by_curve_name(nids[i]);
      out[i].resize(static_cast<std::size_t>(sizes[i]));
      if (group) {
        BN_bn2binpad(EC_GROUP_get0_order(group), reinterpret_cast<unsigned char*>(out[i].data()),
                     sizes[i]);
        EC_GROUP_free(group);
      }  // else all-zero: every signature then fails the range check
    }
    return out;
  }();
  return orders[alg == Alg::ES256 ? 0 : alg == Alg::ES384 ? 1 : 2];
}

bool in_range(std::string_view v, const std::string& n) {
  bool zero = true;
  for (char c : v) zero = zero && c == 0;
  return !zero && std::memcmp(v.data(), n.data(), v.size()) < 0;  // same length: numeric order
}

void der_integer(std::string_view be, std::string& out) {
  std::size_t i = 0;
  while (i + 1 < be.size() && be[i] == 0) ++i;
  const bool pad = (static_cast<unsigned char>(be[i]) & 0x80) != 0;
  out.push_back(0x02);
  out.push_back(static_cast<char>(be.size() - i + (pad ? 1 : 0)));
  if (pad) out.push_back(0);
  out.append(be.substr(i));
}

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Sets PSS parameters: MGF1 with the message digest, salt length = digest length.
bool set_pss(EVP_PKEY_CTX* pctx, Alg alg) {
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, alg_digest(alg)) == 1;
}

bool set_padding(EVP_PKEY_CTX* pctx, Alg alg) {
  switch (alg_family(alg)) {
    case AlgFamily::rsa_pss: return set_pss(pctx, alg);
    case AlgFamily::rsa_pkcs1: return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    default: return true;
  }
}

bool digest_verify(Alg alg, EVP_PKEY* pkey, std::string_view input, std::string_view sig) {
  detail::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  const bool ok = ctx &&
                  EVP_DigestVerifyInit(ctx.get(), &pctx, alg_digest(alg), nullptr, pkey) == 1 &&
                  set_padding(pctx, alg) &&
                  EVP_DigestVerify(ctx.get(), bytes(sig), sig.size(), bytes(input),
                                   input.size()) == 1;
  if (!ok) detail::clear_openssl_errors();
  return ok;
}

int hmac_index(Alg alg) { return static_cast<int>(alg) - static_cast<int>(Alg::HS256); }

}  // namespace

bool ecdsa_components_in_range(Alg alg, std::string_view r_s) {
  const std::size_t size = ecdsa_coordinate_size(alg);
  if (size == 0 || r_s.size() != 2 * size) return false;
  const auto& n = curve_order(alg);
  return in_range(r_s.substr(0, size), n) && in_range(r_s.substr(size), n);
}

std::string ecdsa_jose_to_der(std::string_view r_s) {
  const std::size_t half = r_s.size() / 2;
  std::string body;
  der_integer(r_s.substr(0, half), body);
  der_integer(r_s.substr(half), body);
  std::string out(1, '\x30');
  if (body.size() >= 0x80) out.push_back('\x81');  // long form; P-521 bodies reach 138
  out.push_back(static_cast<char>(body.size()));
  out += body;
  return out;
}

bool ecdsa_der_to_jose(std::string_view der, std::size_t size, std::string& out) {
  const unsigned char* p = bytes(der);
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (!sig) {
    detail::clear_openssl_errors();
    return false;
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  out.assign(2 * size, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  const bool ok = BN_bn2binpad(r, o, static_cast<int>(size)) > 0 &&
                  BN_bn2binpad(s, o + size, static_cast<int>(size)) > 0;
  ECDSA_SIG_free(sig);
  return ok;
}

SignatureCheck verify_signature(Alg alg, const Key& key, std::string_view input,
                                std::string_view sig) {
  switch (alg_family(alg)) {
    case AlgFamily::hmac: {
      if (key.type != KeyType::hmac || sig.size() != digest_size(alg)) {
        return SignatureCheck::malformed;
      }
      unsigned char mac[EVP_MAX_MD_SIZE];
      std::size_t len = 0;
      detail::MacCtxPtr ctx(EVP_MAC_CTX_dup(key.hmac[hmac_index(alg)].get()));
      if (!ctx || EVP_MAC_update(ctx.get(), bytes(input), input.size()) != 1 ||
          EVP_MAC_final(ctx.get(), mac, &len, sizeof mac) != 1 || len != sig.size()) {
        detail::clear_openssl_errors();
        return SignatureCheck::mismatch;
      }
      return CRYPTO_memcmp(mac, sig.data(), len) == 0 ? SignatureCheck::ok
                                                      : SignatureCheck::mismatch;
    }
    case AlgFamily::rsa_pkcs1:
    case AlgFamily::rsa_pss:
      if (!key.pkey || sig.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key.pkey.get()))) {
        return SignatureCheck::malformed;
      }
      return digest_verify(alg, key.pkey.get(), input, sig) ? SignatureCheck::ok
                                                            : SignatureCheck::mismatch;
    case AlgFamily::ecdsa: {
      // Exact R||S length first: a DER signature never has it. Then the range check,
      // before OpenSSL sees it (r = s = 0 is the "psychic signature" of CVE-2022-21449).
      if (!key.pkey || sig.size() != 2 * ecdsa_coordinate_size(alg) ||
          !ecdsa_components_in_range(alg, sig)) {
        return SignatureCheck::malformed;
      }
      const std::string der = ecdsa_jose_to_der(sig);
      return digest_verify(alg, key.pkey.get(), input, der) ? SignatureCheck::ok
                                                            : SignatureCheck::mismatch;
    }
    case AlgFamily::eddsa:
      if (!key.pkey || sig.size() != 64) return SignatureCheck::malformed;
      return digest_verify(alg, key.pkey.get(), input, sig) ? SignatureCheck::ok
                                                            : SignatureCheck::mismatch;
  }
  return SignatureCheck::malformed;
}

bool sign_hmac(Alg alg, std::string_view secret, std::string_view input, std::string& out) {
  if (alg_family(alg) != AlgFamily::hmac) return false;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(alg_digest(alg), secret.data(), static_cast<int>(secret.size()), bytes(input),
            input.size(), mac, &len)) {
    detail::clear_openssl_errors();
    return false;
  }
  out.assign(reinterpret_cast<const char*>(mac), len);
  return true;
}

bool sign_with_key(Alg alg, EVP_PKEY* key, std::string_view input, std::string& out,
                   std::string& error) {
  detail::MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  std::size_t len = 0;
  std::string sig;
  bool ok = ctx && EVP_DigestSignInit(ctx.get(), &pctx, alg_digest(alg), nullptr, key) == 1 &&
            set_padding(pctx, alg) &&
            EVP_DigestSign(ctx.get(), nullptr, &len, bytes(input), input.size()) == 1;
  if (ok) {
    sig.resize(len);
    ok = EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                        bytes(input), input.size()) == 1;
    sig.resize(len);
  }
  if (!ok) {
    detail::clear_openssl_errors();
    error = "signing with " + std::string(alg_name(alg)) + " failed";
    return false;
  }
  if (alg_family(alg) == AlgFamily::ecdsa) {
    if (!ecdsa_der_to_jose(sig, ecdsa_coordinate_size(alg), out)) {
      error = "unexpected ECDSA signature encoding";
      return false;
    }
    return true;
  }
  out = std::move(sig);
  return true;
}

}  // namespace gatehouse::auth
