// libFuzzer target for config/: YAML text in, a validated config or a list of errors
// out; never a crash, an escaped exception or a hang (the runner's -timeout bounds the
// time per input). Relative `*_file` references resolve against tests/fixtures/config/,
// so the fuzzer reaches the key and certificate loading with the fixtures' files.
//
// Properties: exactly one of config and errors; every error has a message and a
// position inside the text (or none); errors come sorted by position; the same text
// gives the same answer twice; a loaded config differs from itself in nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/diff.hpp"
#include "fuzz_support.hpp"

namespace {

const std::string kConfigPath = std::string(GATEHOUSE_FIXTURES) + "/config/fuzz.yaml";

// A reference to a device, a FIFO or a kernel file could block a read forever; those
// belong to the file-size limits of the loader, not to this target's inputs.
bool names_special_files(std::string_view text) {
  for (std::string_view s : {"dev", "proc", "sys", "run/"})
    if (text.find(s) != std::string_view::npos) return true;
  return false;
}

int count_lines(std::string_view text) {
  int n = 1;
  for (char c : text) n += c == '\n' ? 1 : 0;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("GATEHOUSE_TEST_JWT_SECRET", "fuzz-secret-fuzz-secret-fuzz-secret!", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (names_special_files(text)) return -1;

  using gatehouse::config::load_from_string;
  const auto result = load_from_string(text, kConfigPath);
  FUZZ_CHECK(result.config.has_value() == result.errors.empty());
  const int lines = count_lines(text);
  for (std::size_t i = 0; i < result.errors.size(); ++i) {
    const auto& e = result.errors[i];
    FUZZ_CHECK(!e.message.empty());
    FUZZ_CHECK(e.line >= 0 && e.line <= lines + 1);
    FUZZ_CHECK(e.column >= 0);
    FUZZ_CHECK(e.line > 0 || e.column == 0);
    FUZZ_CHECK(!e.to_string().empty());
    if (i > 0) {
      const auto& p = result.errors[i - 1];
      FUZZ_CHECK(p.line < e.line || (p.line == e.line && p.column <= e.column));
    }
  }

  if (size < 2048) {
    const auto again = load_from_string(text, kConfigPath);
    FUZZ_CHECK(again.errors.size() == result.errors.size());
    for (std::size_t i = 0; i < again.errors.size(); ++i)
      FUZZ_CHECK(again.errors[i].to_string() == result.errors[i].to_string());
    if (result.config) {
      FUZZ_CHECK(again.config && again.config->endpoints.size() == result.config->endpoints.size());
      const auto d = gatehouse::config::diff(*result.config, *again.config);
      FUZZ_CHECK(d.effective_unchanged());
      FUZZ_CHECK(d.restart_required.empty());
    }
  }
  return 0;
}
