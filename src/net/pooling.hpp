// net/: whether this build keeps freed memory for reuse.
#pragma once

namespace gatehouse::net {

// The free lists, pools and caches of net/ keep freed blocks for reuse, except in an
// AddressSanitizer build: there every block goes straight back, so ASan sees each
// block's lifetime.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kPooling = false;
#else
inline constexpr bool kPooling = true;
#endif

}  // namespace gatehouse::net
