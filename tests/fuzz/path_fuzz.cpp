// libFuzzer target for router/normalize: router::normalize_path against the independent
// reference in path_reference.hpp (RFC 3986 5.2.4 and SPEC section 3), byte for byte,
// refusals included. Also: normalising twice changes nothing, the result is never
// longer than the input, and it holds no "." or ".." segment.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "path_reference.hpp"
#include "router/normalize.hpp"

namespace ref = gatehouse::fuzz::reference;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The reference itself must reproduce the RFC's examples, or comparing with it
  // proves nothing.
  for (const auto& e : ref::kExamples) FUZZ_CHECK(ref::resolve(ref::kExampleBase, e.reference) == e.target);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Inputs are request paths: mostly they start with '/', which the reference and the
  // router both require; prepend one so the fuzzer need not rediscover it.
  std::string path(reinterpret_cast<const char*>(data), size);
  if (size > 0 && (data[0] & 0x80)) path[0] = '/';

  const auto got = gatehouse::router::normalize_path(path);
  const auto want = ref::normalize(path);
  FUZZ_CHECK(got.has_value() == want.has_value());
  if (!got) return 0;
  FUZZ_CHECK(*got == *want);
  FUZZ_CHECK(!got->empty() && (*got)[0] == '/');
  FUZZ_CHECK(got->size() <= path.size());
  const auto twice = gatehouse::router::normalize_path(*got);
  FUZZ_CHECK(twice && *twice == *got);
  const std::string padded = *got + "/";
  FUZZ_CHECK(padded.find("/./") == std::string::npos && padded.find("/../") == std::string::npos);
  return 0;
}
