// net/: OpenSSL's allocations come from per-thread free lists.
//
// A TLS handshake makes several hundred short-lived allocations inside OpenSSL
// (contexts of every KDF, MAC and digest step, keys, the record buffers that
// SSL_MODE_RELEASE_BUFFERS gives back between reads). With glibc most of them overflow
// its per-thread cache into the arena's path (atomics or its lock): about 115 k
// instructions of a resumed connection, 5 % of it. Handed to OpenSSL with
// CRYPTO_set_mem_functions, these lists serve a block freed by the same thread without
// either, and bound what they keep per thread.
#pragma once

#include <cstddef>

namespace gatehouse::net::tls_memory {

// Makes OpenSSL allocate through this file. Must run before OpenSSL's first
// allocation (first thing in main); false if it came too late (OpenSSL then keeps
// malloc) or in an AddressSanitizer build, which must see every block's lifetime.
bool install() noexcept;

// The functions OpenSSL is handed (exposed for the unit tests).
void* allocate(std::size_t size) noexcept;
void* reallocate(void* p, std::size_t size) noexcept;
void deallocate(void* p) noexcept;

// Gives this thread's cached blocks back to malloc (after a load peak).
void release_unused() noexcept;
// Bytes this thread holds cached.
std::size_t cached_bytes() noexcept;

}  // namespace gatehouse::net::tls_memory
