#include "http/headers.hpp"

#include <array>
#include <cstring>
#include <random>

#include "http/message.hpp"

namespace gatehouse::http {

bool is_hop_by_hop(std::string_view name) {
  switch (name.size()) {
    case 2: return iequals(name, "te");
    case 7: return iequals(name, "trailer") || iequals(name, "upgrade");
    case 10: return iequals(name, "connection") || iequals(name, "keep-alive");
    case 16: return iequals(name, "proxy-connection");
    case 17: return iequals(name, "transfer-encoding");
    case 19: return iequals(name, "proxy-authorization");
    default: return false;
  }
}

bool named_by_connection(std::string_view name, std::span<const std::string_view> tokens) {
  for (std::string_view t : tokens)
    if (iequals(name, t)) return true;
  return false;
}

bool is_idempotent(std::string_view method) {
  for (std::string_view m : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
    if (method == m) return true;
  return false;
}

bool is_sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

void generate_request_id(std::string& out) {
  // xoshiro-style generators are overkill here: a 64-bit splitmix state per thread,
  // seeded once from std::random_device, gives ids that do not repeat in practice.
  thread_local std::uint64_t state = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }();
  auto next = [] {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  // Two hex digits per byte, from a table: one load and one store each.
  static constexpr auto pairs = [] {
    constexpr char hex[] = "0123456789abcdef";
    std::array<char, 512> t{};
    for (int b = 0; b < 256; ++b) {
      t[static_cast<std::size_t>(2 * b)] = hex[b >> 4];
      t[static_cast<std::size_t>(2 * b + 1)] = hex[b & 0xf];
    }
    return t;
  }();
  out.resize(32);
  char* p = out.data();
  for (int half = 0; half < 2; ++half) {
    std::uint64_t v = next();
    for (int i = 0; i < 8; ++i, v >>= 8, p += 2)
      std::memcpy(p, &pairs[static_cast<std::size_t>((v & 0xff) * 2)], 2);
  }
}

}  // namespace gatehouse::http
