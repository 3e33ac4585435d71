// auth/: JWS signatures over OpenSSL 3 EVP (RFC 7518 section 3, RFC 8037 section 3.1).
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

#include "auth/algorithm.hpp"
#include "auth/key_set.hpp"

namespace gatehouse::auth {

enum class SignatureCheck {
  ok,
  mismatch,   // well-formed, but not made with this key over this input
  malformed,  // wrong length for the algorithm/key, or ECDSA r or s outside [1, n-1]
};

// `key` must be one KeySet::select returned for `alg`. Never throws.
SignatureCheck verify_signature(Alg alg, const Key& key, std::string_view signing_input,
                                std::string_view signature);

// ECDSA in JOSE is R||S, each the curve's coordinate size, big-endian (RFC 7518 3.4).
// True when 0 < r < n and 0 < s < n for the curve of `alg` (n: the group order).
bool ecdsa_components_in_range(Alg alg, std::string_view r_s);
// R||S (even length) -> DER ECDSA-Sig-Value, for OpenSSL.
std::string ecdsa_jose_to_der(std::string_view r_s);
// DER ECDSA-Sig-Value -> R||S with each half `size` bytes; false when it does not fit.
bool ecdsa_der_to_jose(std::string_view der, std::size_t size, std::string& out);

// Signing, for minting tokens. HMAC with the raw secret bytes; everything else with a
// private key whose type fits `alg`. ECDSA output is converted to R||S.
bool sign_hmac(Alg alg, std::string_view secret, std::string_view input, std::string& out);
bool sign_with_key(Alg alg, EVP_PKEY* key, std::string_view input, std::string& out,
                   std::string& error);

}  // namespace gatehouse::auth
