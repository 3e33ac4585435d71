// common/: RFC 3339 UTC timestamps with milliseconds ("2026-11-27T10:00:00.000Z"),
// used by logs and the stats API.
#pragma once

#include <chrono>
#include <string>

namespace gatehouse {

void append_rfc3339_ms(std::string& out, std::chrono::system_clock::time_point t);
std::string rfc3339_ms(std::chrono::system_clock::time_point t);

}  // namespace gatehouse
