// redis/: a small Redis client spoken in RESP2 directly over Asio, on the worker's own
// io_context (docs/rate-limiting.md says why not hiredis): the protocol codec, one
// connection (TCP or TLS, AUTH, SELECT), and a per-thread pool that runs scripts.
// resp.hpp: encoding commands and parsing replies, incrementally and with bounds.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gatehouse::redis {

struct Reply {
  enum class Type { simple, error, integer, bulk, nil, array };
  Type type = Type::nil;
  std::string text;              // simple, error, bulk
  std::int64_t integer = 0;
  std::vector<Reply> elements;   // array
};

// Appends `args` as one RESP array of bulk strings.
void encode_command(std::span<const std::string_view> args, std::string& out);

enum class ParseStatus { complete, incomplete, bad };

// Parses one reply from the front of `in`; on `complete`, `used` is its length. Bulk
// strings over 1 MiB, arrays over 1024 elements or nested deeper than 4 are `bad`: a
// rate-limit script answers with a few integers.
ParseStatus parse_reply(std::string_view in, Reply& out, std::size_t& used);

}  // namespace gatehouse::redis
