// One libFuzzer binary per entry of fuzz/entries.h; FAULTLINE_FUZZ_ENTRY
// names the entry (set by fuzz/CMakeLists.txt).
#include <cstddef>
#include <cstdint>

#include "fuzz/entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return faultline::fuzz::FAULTLINE_FUZZ_ENTRY(data, size);
}
