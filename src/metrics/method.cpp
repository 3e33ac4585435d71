#include "metrics/method.hpp"

#include <array>

namespace gatehouse::metrics {

namespace {
constexpr std::array<std::string_view, kMethods> kLabels = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "OTHER"};
}

Method method_of(std::string_view t) {
  switch (t.size()) {
    case 3:
      if (t == "GET") return Method::get;
      if (t == "PUT") return Method::put;
      break;
    case 4:
      if (t == "HEAD") return Method::head;
      if (t == "POST") return Method::post;
      break;
    case 5:
      if (t == "PATCH") return Method::patch;
      if (t == "TRACE") return Method::trace;
      break;
    case 6:
      if (t == "DELETE") return Method::del;
      break;
    case 7:
      if (t == "OPTIONS") return Method::options;
      break;
    default:
      break;
  }
  return Method::other;
}

std::string_view method_label(Method m) {
  const auto i = static_cast<std::size_t>(m);
  return i < kLabels.size() ? kLabels[i] : kLabels.back();
}

}  // namespace gatehouse::metrics
