#include "config/files.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>

namespace gatehouse::config::detail {

std::optional<std::string> read_file(const std::string& path, std::string& error,
                                     std::size_t max_bytes, bool& too_large) {
  too_large = false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    error = "is a directory";
    return std::nullopt;
  }
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    too_large = true;
    error = std::to_string(st.st_size) + " bytes";
    return std::nullopt;
  }
  std::string out;
  char buf[16384];
  while (out.size() <= max_bytes) {
    const std::size_t want = std::min(sizeof buf, max_bytes + 1 - out.size());
    const ssize_t n = ::read(fd, buf, want);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      error = std::strerror(errno);
      ::close(fd);
      return std::nullopt;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (out.size() > max_bytes) {  // grew since fstat, or not a regular file
    too_large = true;
    error = "more than " + std::to_string(max_bytes) + " bytes";
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> read_file(const std::string& path, std::string& error) {
  bool too_large = false;
  return read_file(path, error, std::numeric_limits<std::size_t>::max() - 1, too_large);
}

std::string resolve_path(std::string_view config_path, std::string_view file) {
  const std::filesystem::path p(file);
  if (p.is_absolute()) return std::string(file);
  const std::filesystem::path dir = std::filesystem::path(config_path).parent_path();
  if (dir.empty()) return std::string(file);
  return (dir / p).string();
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 digest failed");
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0x0f];
  }
  return out;
}

}  // namespace gatehouse::config::detail
