// server/: the outcome of a reload, shared by the API, SIGHUP and the file watcher.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/diff.hpp"

namespace gatehouse::server {

struct ReloadOutcome {
  bool ok = false;                   // false: nothing changed, `errors` says why
  bool applied = false;              // true: a new table is live; false: "unchanged"
  std::uint64_t config_version = 0;  // the version live after this reload
  config::ConfigDiff diff;
  std::vector<config::ConfigError> errors;
};

}  // namespace gatehouse::server
