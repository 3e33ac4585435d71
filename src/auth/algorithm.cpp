#include "auth/algorithm.hpp"

#include <array>

namespace gatehouse::auth {
namespace {

constexpr std::array<std::string_view, kAlgCount> kNames = {
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256",
    "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"};

// 0 = SHA-256, 1 = SHA-384, 2 = SHA-512, -1 = none.
int digest_index(Alg alg) {
  if (alg == Alg::EdDSA) return -1;
  return static_cast<int>(alg) % 3;
}

// Explicit fetches avoid a provider lookup by name on every verification.
const EVP_MD* fetched(int index) {
  static EVP_MD* const digests[3] = {
      EVP_MD_fetch(nullptr, "SHA256", nullptr),
      EVP_MD_fetch(nullptr, "SHA384", nullptr),
      EVP_MD_fetch(nullptr, "SHA512", nullptr),
  };
  return digests[index];
}

}  // namespace

std::optional<Alg> alg_from_name(std::string_view name) {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<Alg>(i);
  }
  return std::nullopt;
}

std::string_view alg_name(Alg alg) { return kNames[static_cast<std::size_t>(alg)]; }

AlgFamily alg_family(Alg alg) {
  switch (alg) {
    case Alg::HS256: case Alg::HS384: case Alg::HS512: return AlgFamily::hmac;
    case Alg::RS256: case Alg::RS384: case Alg::RS512: return AlgFamily::rsa_pkcs1;
    case Alg::PS256: case Alg::PS384: case Alg::PS512: return AlgFamily::rsa_pss;
    case Alg::ES256: case Alg::ES384: case Alg::ES512: return AlgFamily::ecdsa;
    case Alg::EdDSA: return AlgFamily::eddsa;
  }
  return AlgFamily::eddsa;
}

const EVP_MD* alg_digest(Alg alg) {
  const int i = digest_index(alg);
  return i < 0 ? nullptr : fetched(i);
}

std::size_t digest_size(Alg alg) {
  static constexpr std::size_t sizes[3] = {32, 48, 64};
  const int i = digest_index(alg);
  return i < 0 ? 0 : sizes[i];
}

std::size_t ecdsa_coordinate_size(Alg alg) {
  switch (alg) {
    case Alg::ES256: return 32;
    case Alg::ES384: return 48;
    case Alg::ES512: return 66;
    default: return 0;
  }
}

AlgSet AlgSet::family(AlgFamily f) {
  AlgSet s;
  for (std::size_t i = 0; i < kAlgCount; ++i) {
    if (alg_family(static_cast<Alg>(i)) == f) s.add(static_cast<Alg>(i));
  }
  return s;
}

}  // namespace gatehouse::auth
