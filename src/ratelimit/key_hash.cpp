#include "ratelimit/key_hash.hpp"

#include <openssl/rand.h>

#include <bit>
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

// sizeof(Word) bytes at p as a little-endian number: one load on a little-endian machine.
template <class Word>
std::uint64_t load_le(const unsigned char* p) {
  if constexpr (std::endian::native == std::endian::little) {
    Word v;
    std::memcpy(&v, p, sizeof v);
    return v;
  } else {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < sizeof(Word); ++i) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
    return v;
  }
}

std::uint64_t load_le8(const unsigned char* p) { return load_le<std::uint64_t>(p); }
std::uint64_t load_le4(const unsigned char* p) { return load_le<std::uint32_t>(p); }

// The message's last n % 8 bytes (`end` is one past its last byte, `n` its length) as a
// little-endian number, with loads that stay within the message and no loop: one 8-byte
// load ending at `end` when the message is that long, else two overlapping 4-byte loads
// or three single bytes (bytes read twice land on the same bits).
std::uint64_t load_tail(const unsigned char* end, std::size_t n) {
  const std::size_t k = n % 8;
  if (k == 0) return 0;
  if (n >= 8) return load_le8(end - 8) >> (64 - 8 * k);
  const unsigned char* p = end - k;
  if (k >= 4) return load_le4(p) | (load_le4(end - 4) << (8 * (k - 4)));
  return static_cast<std::uint64_t>(p[0]) | (static_cast<std::uint64_t>(p[k / 2]) << (8 * (k / 2))) |
         (static_cast<std::uint64_t>(p[k - 1]) << (8 * (k - 1)));
}

}  // namespace

HashKey HashKey::random() {
  HashKey k;
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    std::random_device rd;
    for (auto& b : bytes) b = static_cast<unsigned char>(rd());
  }
  k.k0 = load_le8(bytes);
  k.k1 = load_le8(bytes + 8);
  return k;
}

namespace {

// SipHash-2-4 (Aumasson and Bernstein) up to its finalisation: the key, then the message
// in 8-byte words and a last word holding the tail and the length. `wide` is the
// 128-bit output's variant (v1 starts xored with 0xee).
State absorb(const HashKey& key, std::string_view data, bool wide) {
  State s{key.k0 ^ 0x736f6d6570736575ULL, key.k1 ^ 0x646f72616e646f6dULL,
          key.k0 ^ 0x6c7967656e657261ULL, key.k1 ^ 0x7465646279746573ULL};
  if (wide) s.v1 ^= 0xee;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t n = data.size();
  const std::size_t whole = n - n % 8;
  for (std::size_t i = 0; i < whole; i += 8) {
    const std::uint64_t m = load_le8(p + i);
    s.v3 ^= m;
    s.round();
    s.round();
    s.v0 ^= m;
  }
  const std::uint64_t last = (static_cast<std::uint64_t>(n & 0xff) << 56) | load_tail(p + n, n);
  s.v3 ^= last;
  s.round();
  s.round();
  s.v0 ^= last;
  return s;
}

std::uint64_t finish(State& s) {
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace

std::uint64_t siphash24(const HashKey& key, std::string_view data) {
  State s = absorb(key, data, false);
  s.v2 ^= 0xff;
  return finish(s);
}

KeyDigest siphash24_128(const HashKey& key, std::string_view data) {
  State s = absorb(key, data, true);
  s.v2 ^= 0xee;
  const std::uint64_t first = finish(s);
  s.v1 ^= 0xdd;
  return KeyDigest{first, finish(s)};
}

// One pass of the 128-bit variant: as strong as two 64-bit hashes under two keys, for
// about two thirds of their rounds.
KeyDigest digest_of(const HashKey& key, std::string_view data) {
  KeyDigest d = siphash24_128(key, data);
  if (d.hi == 0) d.hi = 1;
  return d;
}

}  // namespace gatehouse::ratelimit
