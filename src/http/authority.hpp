// http/: the grammar of an authority as a Host field (and an absolute-form target)
// carries it.
#pragma once

#include <string_view>

namespace gatehouse::http {

// True when `v` is `host [ ":" port ]` of RFC 3986 3.2.2/3.2.3: a reg-name (unreserved,
// pct-encoded, sub-delims; possibly empty), an IPv4 address, or a bracketed IP literal
// (IPv6, IPvFuture), then an optional port of at most 5 digits up to 65535. Userinfo,
// whitespace, quotes, slashes and backslashes are refused: nothing an upstream could
// read as another authority or path gets through.
bool is_valid_authority(std::string_view v);

}  // namespace gatehouse::http
