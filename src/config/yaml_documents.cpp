#include "config/yaml_documents.hpp"

#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>

#include <sstream>

namespace gatehouse::config::detail {

namespace {

// Notes where each document and its first node start; builds nothing.
class DocumentMarks final : public YAML::EventHandler {
 public:
  int documents = 0;
  YAML::Mark start[2];   // first token of documents 1 and 2
  YAML::Mark node[2];    // first node of documents 1 and 2

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents < 2) start[documents] = mark;
    ++documents;
    seen_node_ = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { note(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { note(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override { note(mark); }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override { note(mark); }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override { note(mark); }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& mark) {
    if (!seen_node_ && documents >= 1 && documents <= 2) node[documents - 1] = mark;
    seen_node_ = true;
  }
  bool seen_node_ = false;
};

}  // namespace

// yaml-cpp 0.7's LoadAll loops forever, allocating all the while, on a ',' outside
// any [ ] or { } (yaml-cpp issue 1040): the parser reports an empty document without
// consuming the token, and LoadAll asks for the next one again and again. Here the
// parser is asked for two documents at most (events only), and a second document that
// starts where the first one did is that stuck parser. The first document is then
// built by YAML::Load, which reads one document only.
Documents read_documents(const std::string& text) {
  Documents out;
  {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentMarks marks;
    while (marks.documents < 2 && parser.HandleNextDocument(marks)) {
    }
    if (marks.documents == 2) {
      if (marks.start[1].pos == marks.start[0].pos) {
        out.stuck = true;
        out.stuck_at = marks.start[0];
        return out;
      }
      out.more = true;
      out.second = marks.node[1];
    }
  }
  out.first = YAML::Load(text);
  return out;
}

}  // namespace gatehouse::config::detail
