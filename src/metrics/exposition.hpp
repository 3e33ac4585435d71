// metrics/: counters, gauges and histograms kept in per-thread shards, and the
// Prometheus text exposition (format 0.0.4) they are written in. No I/O, no locks on
// the recording path.
// exposition.hpp: the text format: HELP/TYPE lines, samples, escaping, numbers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace gatehouse::metrics {

// Label values escape `\`, `"` and newline; HELP text escapes `\` and newline.
void append_label_value(std::string& out, std::string_view value);
std::string escape_label_value(std::string_view value);
void append_help_text(std::string& out, std::string_view text);

// Numbers as Prometheus parses them: integers in decimal, doubles in the shortest form
// that reads back exactly, and `+Inf`, `-Inf`, `NaN`.
void append_number(std::string& out, std::uint64_t v);
void append_number(std::string& out, std::int64_t v);
void append_number(std::string& out, double v);
inline void append_number(std::string& out, int v) {
  append_number(out, static_cast<std::int64_t>(v));
}

// "# HELP name text\n# TYPE name type\n"; type is counter, gauge or histogram.
void append_family_header(std::string& out, std::string_view name, std::string_view type,
                          std::string_view help);

// One sample line, built label by label:
//   Sample(out, "x_total").label("a", v).escaped_label("b", pre_escaped).value(3);
class Sample {
 public:
  Sample(std::string& out, std::string_view name) : out_(out) { out_.append(name); }
  Sample& label(std::string_view name, std::string_view value) {
    open(name);
    append_label_value(out_, value);
    out_.push_back('"');
    return *this;
  }
  // A value that is already escaped (e.g. an endpoint id escaped once per reload).
  Sample& escaped_label(std::string_view name, std::string_view escaped) {
    open(name);
    out_.append(escaped);
    out_.push_back('"');
    return *this;
  }
  template <class Number>
  void value(Number v) {
    if (labels_) out_.push_back('}');
    out_.push_back(' ');
    append_number(out_, v);
    out_.push_back('\n');
  }

 private:
  void open(std::string_view name) {
    out_.push_back(labels_ ? ',' : '{');
    labels_ = true;
    out_.append(name);
    out_.append("=\"");
  }
  std::string& out_;
  bool labels_ = false;
};

// The samples of one histogram series: `name_bucket{labels,le="..."}` cumulative over
// `counts` (one per bound, non-cumulative, then one for +Inf), `name_sum`, `name_count`.
// `escaped_labels` is `a="x",b="y"` already escaped, or empty.
void append_histogram(std::string& out, std::string_view name, std::string_view escaped_labels,
                      std::span<const std::string_view> upper_bounds,
                      std::span<const std::uint64_t> counts, double sum);

}  // namespace gatehouse::metrics
