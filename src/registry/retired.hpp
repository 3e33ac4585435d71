// registry/: snapshots replaced by a reload, held until nothing else holds them. Whoever
// drops the last reference frees the table (~100 ms at 100,000 endpoints): held here, that
// is the thread calling release() (the control thread), never a worker finishing the
// last request that used the old table.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "registry/snapshot.hpp"

namespace gatehouse::registry {

class RetiredSnapshots {
 public:
  void add(std::shared_ptr<const Snapshot> snap) { held_.push_back(std::move(snap)); }
  // Frees, on the calling thread, the snapshots no one else holds any more; returns how
  // many. A retired snapshot cannot be reached again (it is no longer current), so one
  // held only here stays that way.
  std::size_t release();
  bool empty() const { return held_.empty(); }
  std::size_t size() const { return held_.size(); }

 private:
  std::vector<std::shared_ptr<const Snapshot>> held_;
};

}  // namespace gatehouse::registry
