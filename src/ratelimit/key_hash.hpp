// ratelimit/: the identity of a bucket key: a 128-bit SipHash-2-4 digest under a key
// drawn at random per process. The table stores digests, not the key bytes: every slot
// has a fixed size (no allocation, nothing to reclaim while lock-free readers look), and
// nobody can craft two keys that share a bucket without knowing the process's hash key.
#pragma once

#include <cstdint>
#include <string_view>

namespace gatehouse::ratelimit {

struct KeyDigest {
  std::uint64_t hi = 0;  // never 0: 0 marks an empty slot
  std::uint64_t lo = 0;
  bool operator==(const KeyDigest&) const = default;
};

struct HashKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;
  static HashKey random();
};

// SipHash-2-4, 64-bit output.
std::uint64_t siphash24(const HashKey& key, std::string_view data);
// SipHash-2-4, 128-bit output: hi is its first 8 bytes (little-endian), lo the last 8.
KeyDigest siphash24_128(const HashKey& key, std::string_view data);
// A bucket key's identity: siphash24_128, with hi never 0.
KeyDigest digest_of(const HashKey& key, std::string_view data);

}  // namespace gatehouse::ratelimit
