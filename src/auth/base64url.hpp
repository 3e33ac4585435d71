// auth/: strict base64url (RFC 4648 section 5) as JOSE uses it: no padding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gatehouse::auth {

// Decodes the URL-safe alphabet only (A-Z a-z 0-9 - _). Rejects '=', '+', '/',
// whitespace, a length of 1 mod 4, and non-zero unused trailing bits (so every byte
// string has exactly one accepted encoding).
bool base64url_decode(std::string_view in, std::string& out);
std::optional<std::string> base64url_decode(std::string_view in);

// Encodes without padding.
std::string base64url_encode(std::string_view bytes);
void base64url_encode_append(std::string_view bytes, std::string& out);

}  // namespace gatehouse::auth
