#include "registry/retired.hpp"

namespace gatehouse::registry {

std::size_t RetiredSnapshots::release() {
  const std::size_t before = held_.size();
  std::erase_if(held_, [](const std::shared_ptr<const Snapshot>& s) { return s.use_count() == 1; });
  return before - held_.size();
}

}  // namespace gatehouse::registry
