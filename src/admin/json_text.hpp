// admin/: JSON text of the gateway's own answers. Boost.JSON 1.81 prints every double
// in exponent form (0.992 as 9.92E-1); the stats API prints plain decimals, as SPEC
// section 7's example does.
#pragma once

#include <boost/json/value.hpp>
#include <string>

namespace gatehouse::admin {

// `v` as compact JSON text; doubles as the shortest plain decimal that reads back as
// the same value (0.992, 12, 1500.25), NaN and infinities as null.
std::string to_json(const boost::json::value& v);

}  // namespace gatehouse::admin
