#include "admin/json_text.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>

namespace gatehouse::admin {

namespace json = boost::json;

namespace {

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[400];  // the longest fixed form of a double is 309 digits before the point
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
  out.append(buf, r.ptr);
}

void append(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& member : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string_view(member.key()));
        out += ':';
        append(out, member.value());
      }
      out += '}';
      return;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append(out, item);
      }
      out += ']';
      return;
    }
    case json::kind::double_:
      append_double(out, v.get_double());
      return;
    default:  // strings (escaped by Boost.JSON), integers, booleans, null
      out += json::serialize(v);
      return;
  }
}

}  // namespace

std::string to_json(const json::value& v) {
  std::string out;
  append(out, v);
  return out;
}

}  // namespace gatehouse::admin
