// The determinism check of `faultline run --check-determinism`
// (sim/determinism.h), against fake runs: it must see two traces that differ,
// including only the counterpart's trace of a differential run, and must not
// run a freerun scenario twice.
#include "sim/determinism.h"

#include <gtest/gtest.h>

#include <string>

namespace faultline {
namespace {

RunReport FakeRun(const std::string& dir, const std::string& sha, int exit_code = kExitPass) {
  RunReport r;
  r.exit_code = exit_code;
  r.run_dir = dir;
  r.verdict = {{"scenario", "s"}, {"trace_sha256", sha}};
  return r;
}

RunReport Differential(const std::string& dir, const std::string& sha,
                       const std::string& counterpart_sha) {
  RunReport r = FakeRun(dir, sha);
  r.verdict["differential"] = {{"against", "reference"}, {"trace_sha256", counterpart_sha}};
  return r;
}

ResolvedScenario Scenario(Mode mode) {
  ResolvedScenario s;
  s.name = "s";
  s.mode = mode;
  return s;
}

TEST(DeterminismTest, TheSameTraceTwicePassesWithTheFirstRunsExitCode) {
  int runs = 0;
  const DeterminismCheck c =
      CheckDeterminism(Scenario(Mode::kLockstep), FakeRun("out/s-1", "abc", kExitViolation), [&] {
        ++runs;
        return FakeRun("out/s-1-check", "abc");
      });
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(c.result, DeterminismCheck::Result::kSame);
  EXPECT_EQ(c.exit_code, kExitViolation) << "a violation stays a violation";
  EXPECT_EQ(c.message, "  --check-determinism: same trace twice (abc)\n");
}

TEST(DeterminismTest, TwoDifferentTracesAreAHarnessErrorNamingBothFiles) {
  const DeterminismCheck c = CheckDeterminism(Scenario(Mode::kLockstep), FakeRun("out/s-1", "abc"),
                                              [] { return FakeRun("out/s-1-check", "abd"); });
  EXPECT_EQ(c.result, DeterminismCheck::Result::kDiffer);
  EXPECT_EQ(c.exit_code, kExitHarness);
  EXPECT_EQ(c.first, "abc");
  EXPECT_EQ(c.second, "abd");
  EXPECT_EQ(c.message,
            "  --check-determinism: FAILED: trace_sha256 abc then abd (out/s-1/trace.jsonl vs "
            "out/s-1-check/trace.jsonl); see docs/determinism.md\n");
}

TEST(DeterminismTest, ASecondRunWithoutATraceDiffers) {
  RunReport broken;
  broken.exit_code = kExitHarness;
  broken.run_dir = "out/s-1-check";
  const DeterminismCheck c = CheckDeterminism(Scenario(Mode::kLockstep), FakeRun("out/s-1", "abc"),
                                              [&] { return broken; });
  EXPECT_EQ(c.result, DeterminismCheck::Result::kDiffer);
  EXPECT_EQ(c.exit_code, kExitHarness);
}

TEST(DeterminismTest, ADifferentialRunMustRepeatItsCounterpartToo) {
  const DeterminismCheck same =
      CheckDeterminism(Scenario(Mode::kLockstep), Differential("out/s-1", "abc", "xyz"),
                       [] { return Differential("out/s-1-check", "abc", "xyz"); });
  EXPECT_EQ(same.result, DeterminismCheck::Result::kSame);
  EXPECT_EQ(same.first, "abc+xyz");
  const DeterminismCheck differ =
      CheckDeterminism(Scenario(Mode::kLockstep), Differential("out/s-1", "abc", "xyz"),
                       [] { return Differential("out/s-1-check", "abc", "xyw"); });
  EXPECT_EQ(differ.result, DeterminismCheck::Result::kDiffer);
  EXPECT_EQ(differ.exit_code, kExitHarness);
  EXPECT_EQ(differ.first, "abc+xyz");
  EXPECT_EQ(differ.second, "abc+xyw");
}

TEST(DeterminismTest, FreerunIsNotRunTwice) {
  bool ran = false;
  const DeterminismCheck c =
      CheckDeterminism(Scenario(Mode::kFreerun), FakeRun("out/s-1", "abc"), [&] {
        ran = true;
        return FakeRun("out/s-1-check", "zzz");
      });
  EXPECT_FALSE(ran);
  EXPECT_EQ(c.result, DeterminismCheck::Result::kSkipped);
  EXPECT_EQ(c.exit_code, kExitPass);
  EXPECT_EQ(c.message,
            "  --check-determinism: skipped, freerun runs are reproducible in distribution "
            "only\n");
}

TEST(DeterminismTest, TraceIdentityOfAVerdict) {
  EXPECT_EQ(TraceIdentity({{"trace_sha256", "abc"}}, false), "abc");
  EXPECT_EQ(TraceIdentity({{"trace_sha256", "abc"}}, true), "abc+");
  EXPECT_EQ(TraceIdentity(nlohmann::json(), false), "");
}

}  // namespace
}  // namespace faultline
