#include "auth/base64url.hpp"

#include <array>
#include <cstdint>

namespace gatehouse::auth {
namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<std::int8_t, 256> make_table() {
  std::array<std::int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<std::int8_t>(i);
  return t;
}
constexpr auto kTable = make_table();

}  // namespace

bool base64url_decode(std::string_view in, std::string& out) {
  const std::size_t rest = in.size() % 4;
  if (rest == 1) return false;  // cannot end on a whole byte
  out.resize(in.size() / 4 * 3 + (rest == 0 ? 0 : rest - 1));
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  const std::size_t full = in.size() - rest;
  int bad = 0;  // OR of all table entries: negative when any character is outside the alphabet
  for (std::size_t i = 0; i < full; i += 4, o += 3) {
    const int a = kTable[p[i]], b = kTable[p[i + 1]], c = kTable[p[i + 2]], d = kTable[p[i + 3]];
    bad |= a | b | c | d;
    const std::uint32_t n = (static_cast<std::uint32_t>(a & 63) << 18) | ((b & 63) << 12) |
                            ((c & 63) << 6) | (d & 63);
    o[0] = static_cast<unsigned char>(n >> 16);
    o[1] = static_cast<unsigned char>(n >> 8);
    o[2] = static_cast<unsigned char>(n);
  }
  if (rest >= 2) {
    const int a = kTable[p[full]], b = kTable[p[full + 1]];
    const int c = rest == 3 ? kTable[p[full + 2]] : 0;
    bad |= a | b | c;
    const std::uint32_t n = (static_cast<std::uint32_t>(a & 63) << 18) | ((b & 63) << 12) | ((c & 63) << 6);
    o[0] = static_cast<unsigned char>(n >> 16);
    if (rest == 3) o[1] = static_cast<unsigned char>(n >> 8);
    // Unused low bits must be zero: otherwise two encodings map to one value.
    if ((rest == 2 && (n & 0xffff)) || (rest == 3 && (n & 0xff))) bad = -1;
  }
  if (bad < 0) {
    out.clear();
    return false;
  }
  return true;
}

std::optional<std::string> base64url_decode(std::string_view in) {
  std::string out;
  if (!base64url_decode(in, out)) return std::nullopt;
  return out;
}

void base64url_encode_append(std::string_view bytes, std::string& out) {
  out.reserve(out.size() + (bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t n = p[i] << 16;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
  } else if (rest == 2) {
    const std::uint32_t n = (p[i] << 16) | (p[i + 1] << 8);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
  }
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  base64url_encode_append(bytes, out);
  return out;
}

}  // namespace gatehouse::auth
