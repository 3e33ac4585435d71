// net/: which certificate a TLS client gets for the name it asked for (SNI): the
// certificates' subjectAltName DNS names, exact or with a one-label wildcard.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gatehouse::net {

class SniTable {
 public:
  // The DNS names of certificate `index`. A name already taken by an earlier certificate
  // stays with that one (the config's order decides, `cert_file` first).
  void add(std::size_t index, const std::vector<std::string>& names);
  // The certificate for `server_name`: an exact name (case-insensitive, a trailing dot
  // ignored) before a wildcard `*.rest` matching exactly one label in front of `rest`;
  // 0, the default certificate, when none matches or no name was sent.
  std::size_t choose(std::string_view server_name) const;

 private:
  std::unordered_map<std::string, std::size_t> exact_;
  std::unordered_map<std::string, std::size_t> wildcard_;  // by the part after "*."
};

}  // namespace gatehouse::net
