// auth/: the JWS algorithms gatehouse accepts (RFC 7518 section 3, RFC 8037).
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace gatehouse::auth {

enum class Alg : std::uint8_t {
  HS256, HS384, HS512,
  RS256, RS384, RS512,
  PS256, PS384, PS512,
  ES256, ES384, ES512,
  EdDSA,
};
inline constexpr std::size_t kAlgCount = 13;

enum class AlgFamily { hmac, rsa_pkcs1, rsa_pss, ecdsa, eddsa };

// Exact, case-sensitive names ("none" and unknown names -> nullopt).
std::optional<Alg> alg_from_name(std::string_view name);
std::string_view alg_name(Alg alg);
AlgFamily alg_family(Alg alg);

// The digest of `alg`, fetched once; nullptr for EdDSA (Ed25519 hashes internally).
const EVP_MD* alg_digest(Alg alg);
std::size_t digest_size(Alg alg);         // 32/48/64; 0 for EdDSA
std::size_t ecdsa_coordinate_size(Alg alg);  // 32/48/66 for ES256/384/512; 0 otherwise

// A small set of algorithms (what a key may verify, what the config allows).
class AlgSet {
 public:
  constexpr AlgSet() = default;
  static constexpr AlgSet all() { return AlgSet((1u << kAlgCount) - 1); }
  static AlgSet family(AlgFamily f);
  constexpr bool contains(Alg a) const { return (bits_ >> static_cast<unsigned>(a)) & 1u; }
  constexpr void add(Alg a) { bits_ |= 1u << static_cast<unsigned>(a); }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr AlgSet operator&(AlgSet o) const { return AlgSet(bits_ & o.bits_); }
  constexpr AlgSet operator|(AlgSet o) const { return AlgSet(bits_ | o.bits_); }
  constexpr bool operator==(const AlgSet&) const = default;

 private:
  constexpr explicit AlgSet(std::uint32_t bits) : bits_(bits) {}
  std::uint32_t bits_ = 0;
};

}  // namespace gatehouse::auth
