#include "auth/strict_json.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <vector>

namespace gatehouse::auth {
namespace {

constexpr std::size_t kMaxDepth = 16;  // JOSE headers and claims are shallow

class Builder {
 public:
  // Limits the parser enforces; the 8 KiB token cap keeps real inputs far below them.
  static constexpr std::size_t max_object_size = 4096;
  static constexpr std::size_t max_array_size = 8192;
  static constexpr std::size_t max_key_size = 64 * 1024;
  static constexpr std::size_t max_string_size = 64 * 1024;

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }

  bool on_object_begin(boost::system::error_code&) {
    stack_.emplace_back(boost::json::object_kind);
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code& ec) { return close(ec); }
  bool on_array_begin(boost::system::error_code&) {
    stack_.emplace_back(boost::json::array_kind);
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code& ec) { return close(ec); }

  bool on_key_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    part_.append(s.data(), s.size());
    if (stack_.back().as_object().contains(part_)) {
      duplicate_ = true;
      detail_ = part_;
      ec = boost::json::error::syntax;
      return false;
    }
    keys_.push_back(std::move(part_));
    part_.clear();
    return true;
  }
  bool on_string_part(boost::json::string_view s, std::size_t, boost::system::error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t, boost::system::error_code& ec) {
    part_.append(s.data(), s.size());
    boost::json::value v(boost::json::string_view(part_.data(), part_.size()));
    part_.clear();
    return put(std::move(v), ec);
  }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t i, boost::json::string_view, boost::system::error_code& ec) {
    return put(boost::json::value(i), ec);
  }
  bool on_uint64(std::uint64_t u, boost::json::string_view, boost::system::error_code& ec) {
    return put(boost::json::value(u), ec);
  }
  bool on_double(double d, boost::json::string_view, boost::system::error_code& ec) {
    return put(boost::json::value(d), ec);
  }
  bool on_bool(bool b, boost::system::error_code& ec) { return put(boost::json::value(b), ec); }
  bool on_null(boost::system::error_code& ec) { return put(boost::json::value(nullptr), ec); }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

  bool duplicate() const { return duplicate_; }
  const std::string& detail() const { return detail_; }
  boost::json::value take() { return std::move(result_); }

 private:
  bool put(boost::json::value&& v, boost::system::error_code&) {
    if (stack_.empty()) {
      result_ = std::move(v);
      return true;
    }
    auto& top = stack_.back();
    if (top.is_object()) {
      top.as_object().emplace(keys_.back(), std::move(v));
      keys_.pop_back();
    } else {
      top.as_array().push_back(std::move(v));
    }
    return true;
  }
  bool close(boost::system::error_code& ec) {
    boost::json::value done = std::move(stack_.back());
    stack_.pop_back();
    return put(std::move(done), ec);
  }

  std::vector<boost::json::value> stack_;  // open objects and arrays
  std::vector<std::string> keys_;          // the pending member name of each open object
  std::string part_;
  boost::json::value result_;
  bool duplicate_ = false;
  std::string detail_;
};

}  // namespace

JsonResult parse_strict_json(std::string_view text, boost::json::value& out) {
  try {
    boost::json::parse_options opt;
    opt.max_depth = kMaxDepth;
    opt.allow_comments = false;
    opt.allow_trailing_commas = false;
    opt.allow_invalid_utf8 = false;
    boost::json::basic_parser<Builder> parser(opt);
    boost::system::error_code ec;
    const std::size_t n = parser.write_some(false, text.data(), text.size(), ec);
    if (parser.handler().duplicate()) {
      return {JsonError::duplicate_member, parser.handler().detail()};
    }
    if (ec == boost::json::error::too_deep) return {JsonError::too_deep, ec.message()};
    if (ec) return {JsonError::syntax, ec.message()};
    if (n != text.size() || !parser.done()) return {JsonError::syntax, "trailing data"};
    out = parser.handler().take();
    return {};
  } catch (const std::exception& e) {  // allocation failure; never escapes the verify path
    return {JsonError::syntax, e.what()};
  }
}

}  // namespace gatehouse::auth
