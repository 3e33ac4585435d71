#include "ratelimit/key_hash.hpp"

#include <openssl/rand.h>

#include <cstring>
#include <random>

namespace gatehouse::ratelimit {

namespace {

constexpr std::uint64_t rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct State {
  std::uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32);
    v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;
    v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;
    v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32);
  }
};

std::uint64_t load_le(const unsigned char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

HashKey HashKey::random() {
  HashKey k;
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  }
  k.k0 = load_le(bytes, 8);
  k.k1 = load_le(bytes + 8, 8);
  return k;
}

// SipHash-2-4 (Aumasson and Bernstein), 64-bit output.
std::uint64_t siphash24(const HashKey& key, std::string_view data) {
  State s{key.k0 ^ 0x736f6d6570736575ULL, key.k1 ^ 0x646f72616e646f6dULL,
          key.k0 ^ 0x6c7967656e657261ULL, key.k1 ^ 0x7465646279746573ULL};
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t n = data.size();
  const std::size_t whole = n - n % 8;
  for (std::size_t i = 0; i < whole; i += 8) {
    const std::uint64_t m = load_le(p + i, 8);
    s.v3 ^= m;
    s.round();
    s.round();
    s.v0 ^= m;
  }
  const std::uint64_t last = (static_cast<std::uint64_t>(n & 0xff) << 56) | load_le(p + whole, n - whole);
  s.v3 ^= last;
  s.round();
  s.round();
  s.v0 ^= last;
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

KeyDigest digest_of(const HashKey& key, std::string_view data) {
  const HashKey second{key.k0 ^ 0x9e3779b97f4a7c15ULL, key.k1 + 0x2545f4914f6cdd1dULL};
  KeyDigest d{siphash24(key, data), siphash24(second, data)};
  if (d.hi == 0) d.hi = 1;
  return d;
}

}  // namespace gatehouse::ratelimit
