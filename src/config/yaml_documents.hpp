// config/: reading the documents of a YAML file without yaml-cpp's LoadAll, which
// never returns on some malformed input. Internal to config/.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

namespace gatehouse::config::detail {

struct Documents {
  YAML::Node first;          // the first document (null when there is none)
  bool more = false;         // a second document follows; it starts at `second`
  YAML::Mark second;
  bool stuck = false;        // the parser stopped making progress at `stuck_at`
  YAML::Mark stuck_at;
};

// Throws YAML::Exception on a syntax error, as YAML::LoadAll does.
Documents read_documents(const std::string& text);

}  // namespace gatehouse::config::detail
