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

std::uint64_t siphash24(const HashKey& key, std::string_view data);
KeyDigest digest_of(const HashKey& key, std::string_view data);

}  // namespace gatehouse::ratelimit
