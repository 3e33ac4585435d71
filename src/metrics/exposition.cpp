#include "metrics/exposition.hpp"

#include <charconv>
#include <cmath>

namespace gatehouse::metrics {

void append_label_value(std::string& out, std::string_view value) {
  std::size_t plain = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c != '\\' && c != '"' && c != '\n') continue;
    out.append(value.substr(plain, i - plain));
    out.append(c == '\\' ? "\\\\" : c == '"' ? "\\\"" : "\\n");
    plain = i + 1;
  }
  out.append(value.substr(plain));
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  append_label_value(out, value);
  return out;
}

void append_help_text(std::string& out, std::string_view text) {
  for (const char c : text) {
    if (c == '\\') out.append("\\\\");
    else if (c == '\n') out.append("\\n");
    else out.push_back(c);
  }
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_number(std::string& out, std::int64_t v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_family_header(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help) {
  out.append("# HELP ");
  out.append(name);
  out.push_back(' ');
  append_help_text(out, help);
  out.append("\n# TYPE ");
  out.append(name);
  out.push_back(' ');
  out.append(type);
  out.push_back('\n');
}

namespace {
void append_series_name(std::string& out, std::string_view name, std::string_view suffix,
                        std::string_view escaped_labels) {
  out.append(name);
  out.append(suffix);
  if (!escaped_labels.empty()) {
    out.push_back('{');
    out.append(escaped_labels);
    out.push_back('}');
  }
  out.push_back(' ');
}
}  // namespace

void append_histogram(std::string& out, std::string_view name, std::string_view escaped_labels,
                      std::span<const std::string_view> upper_bounds,
                      std::span<const std::uint64_t> counts, double sum) {
  std::uint64_t cumulative = 0;
  // Every bucket line starts `name_bucket{labels,le="`: written once, then copied.
  const std::size_t prefix_at = out.size();
  out.append(name);
  out.append("_bucket{");
  if (!escaped_labels.empty()) {
    out.append(escaped_labels);
    out.push_back(',');
  }
  out.append("le=\"");
  const std::size_t prefix_len = out.size() - prefix_at;
  for (std::size_t i = 0; i <= upper_bounds.size(); ++i) {
    cumulative += i < counts.size() ? counts[i] : 0;
    if (i > 0) out.append(out, prefix_at, prefix_len);
    out.append(i < upper_bounds.size() ? upper_bounds[i] : std::string_view("+Inf"));
    out.append("\"} ");
    append_number(out, cumulative);
    out.push_back('\n');
  }
  append_series_name(out, name, "_sum", escaped_labels);
  append_number(out, sum);
  out.push_back('\n');
  append_series_name(out, name, "_count", escaped_labels);
  append_number(out, cumulative);
  out.push_back('\n');
}

}  // namespace gatehouse::metrics
