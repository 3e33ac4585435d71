#include "net/tls_memory.hpp"
#include "net/pooling.hpp"

#include <openssl/crypto.h>

#include <array>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gatehouse::net::tls_memory {

namespace {

// Size classes: 16 bytes apart up to 1 KiB, then four per doubling up to 64 KiB (the
// record buffers are a little over 16 KiB). Larger blocks go straight to malloc.
constexpr std::size_t kSmallStep = 16;
constexpr std::size_t kSmallClasses = 64;
constexpr std::size_t kSmallMax = kSmallStep * kSmallClasses;
constexpr std::size_t kLargeMax = 64 * 1024;
constexpr std::size_t kClasses = kSmallClasses + 4 * (std::bit_width(kLargeMax - 1) - 10);
constexpr std::uint32_t kUncached = 0xffffffff;
// What one thread keeps for reuse: many handshakes' worth, and bounded after a peak.
constexpr std::size_t kMaxCachedBytes = 2 * 1024 * 1024;

// In front of every block; 16 bytes keep malloc's alignment for the caller.
struct alignas(16) Header {
  std::uint32_t size_class;
  std::uint32_t state;  // kLive or kFree: a double free or a clobbered header stops here
  std::size_t size;     // what was asked for: what a move to another class copies
};
constexpr std::uint32_t kLive = 0x4c495645;
constexpr std::uint32_t kFree = 0x46524545;
static_assert(sizeof(Header) == 16);

// A cached block's first word: the next one, its address mixed with the word's own
// (as glibc's safe-linking does), so an overflow into a free block cannot hand out an
// address of the attacker's choosing without also knowing where the heap is.
struct Block {
  std::uintptr_t next;
};

Block* next_of(const Block* b) {
  return reinterpret_cast<Block*>(b->next ^ (reinterpret_cast<std::uintptr_t>(&b->next) >> 12));
}
void link(Block* b, Block* next) {
  b->next = reinterpret_cast<std::uintptr_t>(next) ^ (reinterpret_cast<std::uintptr_t>(&b->next) >> 12);
}

[[noreturn]] void corrupted(const char* what) {
  std::fprintf(stderr, "gatehouse: OpenSSL memory: %s\n", what);
  std::abort();
}

struct Class {
  std::uint32_t index;
  std::size_t capacity;
};

Class class_of(std::size_t size) {
  if (size == 0) size = 1;
  if (size <= kSmallMax) {
    const auto c = static_cast<std::uint32_t>((size - 1) / kSmallStep);
    return {c, (c + 1) * kSmallStep};
  }
  if (size > kLargeMax) return {kUncached, size};
  // 2^(e-1) < size <= 2^e: four classes of 2^(e-3) bytes each cover the doubling.
  const auto e = static_cast<std::uint32_t>(std::bit_width(size - 1));
  const std::size_t step = std::size_t{1} << (e - 3);
  const std::size_t steps = (size + step - 1) / step;  // 5..8
  return {static_cast<std::uint32_t>(kSmallClasses + (e - 11) * 4 + (steps - 5)), steps * step};
}

std::size_t capacity_of(std::uint32_t index) {
  if (index < kSmallClasses) return (index + 1) * kSmallStep;
  const std::uint32_t large = index - kSmallClasses;
  const std::uint32_t e = 11 + large / 4;
  return (5 + large % 4) * (std::size_t{1} << (e - 3));
}

// Trivially destructible and constant-initialised, so the hot path reads it without a
// thread-local initialisation check; the first cached block registers `Reaper`, which
// gives the blocks back when the thread ends.
struct Pool {
  std::array<Block*, kClasses> head;
  std::size_t cached;
  bool reaper;  // registered on this thread
  bool gone;    // the thread is ending: frees go straight back to malloc

  void release() noexcept {
    for (std::uint32_t c = 0; c < kClasses; ++c) {
      while (Block* b = head[c]) {
        head[c] = next_of(b);
        std::free(reinterpret_cast<Header*>(b) - 1);
      }
    }
    cached = 0;
  }
};

constinit thread_local Pool pool{};

struct Reaper {
  ~Reaper() {
    pool.gone = true;
    pool.release();
  }
};

void register_reaper() {
  pool.reaper = true;
  static thread_local Reaper reaper;
  (void)reaper;
}

Header* header_of(void* p) { return static_cast<Header*>(p) - 1; }

void* make(std::size_t size) {
  const Class c = class_of(size);
  if (kPooling && c.index != kUncached) {
    if (Block* b = pool.head[c.index]) {
      Header* h = header_of(b);
      if (h->state != kFree || h->size_class != c.index) corrupted("a cached block was overwritten");
      pool.head[c.index] = next_of(b);
      pool.cached -= c.capacity;
      h->state = kLive;
      h->size = size;
      return b;
    }
  }
  if (c.capacity > SIZE_MAX - sizeof(Header)) return nullptr;
  auto* h = static_cast<Header*>(std::malloc(sizeof(Header) + c.capacity));
  if (h == nullptr) return nullptr;
  h->size_class = kPooling ? c.index : kUncached;
  h->state = kLive;
  h->size = size;
  return h + 1;
}

void drop(void* p) {
  Header* h = header_of(p);
  if (h->state != kLive) corrupted("a block freed twice, or not from here");
  const std::uint32_t c = h->size_class;
  if (c == kUncached || pool.gone) {
    std::free(h);
    return;
  }
  const std::size_t capacity = capacity_of(c);
  if (pool.cached + capacity > kMaxCachedBytes) {
    std::free(h);
    return;
  }
  if (!pool.reaper) register_reaper();
  h->state = kFree;
  auto* b = static_cast<Block*>(p);
  link(b, pool.head[c]);
  pool.head[c] = b;
  pool.cached += capacity;
}

// OpenSSL's signatures: the public functions, without its file and line.
void* openssl_malloc(std::size_t num, const char*, int) { return allocate(num); }
void* openssl_realloc(void* p, std::size_t num, const char*, int) { return reallocate(p, num); }
void openssl_free(void* p, const char*, int) { deallocate(p); }

}  // namespace

bool install() noexcept {
  if (!kPooling) return false;
  return CRYPTO_set_mem_functions(openssl_malloc, openssl_realloc, openssl_free) == 1;
}

void* allocate(std::size_t size) noexcept { return make(size); }

void deallocate(void* p) noexcept {
  if (p != nullptr) drop(p);
}

void* reallocate(void* p, std::size_t size) noexcept {
  if (p == nullptr) return make(size);
  if (size == 0) {  // as OpenSSL's own: free, and no block
    drop(p);
    return nullptr;
  }
  Header* h = header_of(p);
  const Class c = class_of(size);
  if (h->size_class != kUncached && h->size_class == c.index) {
    h->size = size;
    return p;
  }
  void* moved = make(size);
  if (moved == nullptr) return nullptr;  // the old block stays the caller's
  std::memcpy(moved, p, h->size < size ? h->size : size);
  drop(p);
  return moved;
}

void release_unused() noexcept {
  if (kPooling && !pool.gone) pool.release();
}

std::size_t cached_bytes() noexcept { return pool.cached; }

}  // namespace gatehouse::net::tls_memory
