// Every input a fuzz target ever crashed or hung on, kept under
// tests/fuzz/<target>/, fed again to the same entry function (fuzz/entries.h)
// in the normal build: a reader that regresses aborts, throws or times out
// here, no fuzzer needed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/entries.h"

namespace faultline::fuzz {
namespace {

namespace stdfs = std::filesystem;

std::vector<stdfs::path> CasesOf(const std::string& target) {
  std::vector<stdfs::path> out;
  const stdfs::path dir = stdfs::path(FUZZ_CASES_DIR) / target;
  std::error_code ec;
  for (const auto& entry : stdfs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file()) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class FuzzRegression : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzRegression, EveryKeptInputIsHandled) {
  const Target& target = GetParam();
  const std::vector<stdfs::path> cases = CasesOf(target.name);
  for (const stdfs::path& path : cases) {
    SCOPED_TRACE(path.string());
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(target.entry(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()), 0);
  }
  std::printf("%s: %zu kept inputs\n", target.name, cases.size());
}

// Every target keeps at least one input, so a renamed folder cannot silently
// turn its regression test into nothing.
TEST_P(FuzzRegression, HasKeptInputs) { EXPECT_FALSE(CasesOf(GetParam().name).empty()); }

INSTANTIATE_TEST_SUITE_P(Targets, FuzzRegression, ::testing::ValuesIn(kTargets),
                         [](const ::testing::TestParamInfo<Target>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace faultline::fuzz
