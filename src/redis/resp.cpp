#include "redis/resp.hpp"

#include <charconv>

namespace gatehouse::redis {

void encode_command(std::span<const std::string_view> args, std::string& out) {
  char num[24];
  const auto append_len = [&](char type, std::size_t n) {
    out.push_back(type);
    const auto r = std::to_chars(num, num + sizeof num, n);
    out.append(num, r.ptr);
    out.append("\r\n");
  };
  append_len('*', args.size());
  for (auto a : args) {
    append_len('$', a.size());
    out.append(a);
    out.append("\r\n");
  }
}

namespace {

constexpr std::int64_t kMaxBulk = 1 << 20;
constexpr std::int64_t kMaxElements = 1024;
constexpr int kMaxDepth = 4;

// The line after the type byte at `pos`: sets `line` and advances `pos` past its CRLF.
ParseStatus line_at(std::string_view in, std::size_t& pos, std::string_view& line) {
  const auto end = in.find("\r\n", pos);
  if (end == std::string_view::npos) return in.size() - pos > 4096 ? ParseStatus::bad : ParseStatus::incomplete;
  line = in.substr(pos, end - pos);
  pos = end + 2;
  return ParseStatus::complete;
}

bool to_int(std::string_view s, std::int64_t& v) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

ParseStatus parse_at(std::string_view in, std::size_t& pos, Reply& out, int depth) {
  if (depth > kMaxDepth) return ParseStatus::bad;
  if (pos >= in.size()) return ParseStatus::incomplete;
  const char type = in[pos++];
  std::string_view line;
  if (auto st = line_at(in, pos, line); st != ParseStatus::complete) return st;
  std::int64_t n = 0;
  switch (type) {
    case '+':
      out.type = Reply::Type::simple;
      out.text.assign(line);
      return ParseStatus::complete;
    case '-':
      out.type = Reply::Type::error;
      out.text.assign(line);
      return ParseStatus::complete;
    case ':':
      out.type = Reply::Type::integer;
      return to_int(line, out.integer) ? ParseStatus::complete : ParseStatus::bad;
    case '$':
      if (!to_int(line, n) || n < -1 || n > kMaxBulk) return ParseStatus::bad;
      if (n == -1) {
        out.type = Reply::Type::nil;
        return ParseStatus::complete;
      }
      if (in.size() - pos < static_cast<std::size_t>(n) + 2) return ParseStatus::incomplete;
      if (in.substr(pos + static_cast<std::size_t>(n), 2) != "\r\n") return ParseStatus::bad;
      out.type = Reply::Type::bulk;
      out.text.assign(in.substr(pos, static_cast<std::size_t>(n)));
      pos += static_cast<std::size_t>(n) + 2;
      return ParseStatus::complete;
    case '*':
      if (!to_int(line, n) || n < -1 || n > kMaxElements) return ParseStatus::bad;
      if (n == -1) {
        out.type = Reply::Type::nil;
        return ParseStatus::complete;
      }
      out.type = Reply::Type::array;
      out.elements.assign(static_cast<std::size_t>(n), Reply{});
      for (auto& e : out.elements) {
        if (auto st = parse_at(in, pos, e, depth + 1); st != ParseStatus::complete) return st;
      }
      return ParseStatus::complete;
    default:
      return ParseStatus::bad;
  }
}

}  // namespace

ParseStatus parse_reply(std::string_view in, Reply& out, std::size_t& used) {
  std::size_t pos = 0;
  out = Reply{};
  const auto st = parse_at(in, pos, out, 0);
  if (st == ParseStatus::complete) used = pos;
  return st;
}

}  // namespace gatehouse::redis
