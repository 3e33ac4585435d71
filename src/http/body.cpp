#include "http/body.hpp"

#include <charconv>

namespace gatehouse::http {

void BodyWriter::append_chunk_size(std::size_t size, std::string& out) {
  char hex[20];
  auto [end, ec] = std::to_chars(hex, hex + sizeof hex, size, 16);
  out.append(hex, end);
  out.append("\r\n");
}

}  // namespace gatehouse::http
