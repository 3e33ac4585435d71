// config/: what kinds of verification keys a PEM or JWKS file holds, so the loader can
// check that every configured JWT algorithm has a key of its type. Building the
// verification keys themselves is auth/'s job. Internal to config/.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::config::detail {

enum class KeyKind { rsa, rsa_pss, ec_p256, ec_p384, ec_p521, ed25519 };

struct KeyInfo {
  KeyKind kind;
  std::string alg;  // JWKS "alg" member: the only algorithm the key may verify; "" = any fitting
};

// The algorithms a JWT verifier may accept.
bool is_supported_algorithm(std::string_view alg);
bool is_hmac_algorithm(std::string_view alg);
const std::vector<std::string_view>& supported_algorithms();

// "an RSA key", "a P-256 EC key", ... (what `alg` needs; HS* excluded).
std::string_view key_needed_for(std::string_view alg);
bool key_fits(const KeyInfo& key, std::string_view alg);

// Reads every PUBLIC KEY block of a PEM file. Returns the problems found (empty = ok).
std::vector<std::string> inspect_pem(std::string_view pem, std::vector<KeyInfo>& keys);

// Parses a JWKS document ({"keys": [...]}) and checks each key's members. Keys with
// "use" other than "sig" are skipped. Returns the problems found (empty = ok).
std::vector<std::string> inspect_jwks(std::string_view json, std::vector<KeyInfo>& keys);

// Number of PEM certificates in `pem` (for CA bundles).
int count_pem_certificates(std::string_view pem);

}  // namespace gatehouse::config::detail
