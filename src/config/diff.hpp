// config/: what changed between two validated configs, for reloads (SPEC section 7).
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace gatehouse::config {

// Equal effective settings (defaults merged), ignoring where in the file it was written.
bool same_endpoint(const Endpoint& a, const Endpoint& b);

struct ConfigDiff {
  std::vector<std::string> added;      // enabled now, absent or disabled before
  std::vector<std::string> removed;    // in the file before (enabled or not), absent now
  std::vector<std::string> updated;    // enabled in both, settings changed
  std::vector<std::string> unchanged;  // enabled in both, same settings
  std::vector<std::string> disabled;   // disabled now
  std::vector<std::string> restart_required;  // changed keys only a restart applies
  bool globals_changed = false;        // log, limits, auth, shutdown_grace, watch
  bool disabled_changed = false;       // a disabled endpoint appeared, went or changed

  // Nothing a reload would apply.
  bool effective_unchanged() const {
    return added.empty() && removed.empty() && updated.empty() && !globals_changed &&
           !disabled_changed;
  }
};

ConfigDiff diff(const Config& before, const Config& after);

}  // namespace gatehouse::config
