// The shard of a process from --shard and the CI systems' variables
// (cli/shard.h), and the text of the progress line (cli/progress_line.h).
#include "cli/shard.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "cli/progress_line.h"

namespace faultline::cli {
namespace {

struct Env {
  std::map<std::string, std::string> vars;
  EnvLookup Lookup() const {
    return [this](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

Shard Resolve(const std::string& flag, const Env& env) {
  Shard shard;
  std::string error;
  EXPECT_TRUE(ResolveShard(flag, env.Lookup(), &shard, &error)) << error;
  return shard;
}

std::string Error(const std::string& flag, const Env& env) {
  Shard shard;
  std::string error;
  EXPECT_FALSE(ResolveShard(flag, env.Lookup(), &shard, &error));
  return error;
}

TEST(Shard, NothingSetIsOneShard) {
  const Shard s = Resolve("", Env{});
  EXPECT_EQ(s.index, 0);
  EXPECT_EQ(s.total, 1);
}

TEST(Shard, EachConventionWithItsBase) {
  EXPECT_EQ(Resolve("", Env{{{"GTEST_SHARD_INDEX", "2"}, {"GTEST_TOTAL_SHARDS", "5"}}}).index, 2);
  // GitLab counts from 1.
  const Shard gitlab = Resolve("", Env{{{"CI_NODE_INDEX", "1"}, {"CI_NODE_TOTAL", "3"}}});
  EXPECT_EQ(gitlab.index, 0);
  EXPECT_EQ(gitlab.total, 3);
  EXPECT_EQ(gitlab.source, "CI_NODE_INDEX/CI_NODE_TOTAL");
  EXPECT_EQ(Resolve("", Env{{{"CI_NODE_INDEX", "3"}, {"CI_NODE_TOTAL", "3"}}}).index, 2);
  const Shard k8s = Resolve("", Env{{{"JOB_COMPLETION_INDEX", "63"}, {"JOB_COMPLETIONS", "64"}}});
  EXPECT_EQ(k8s.index, 63);
  EXPECT_EQ(k8s.total, 64);
}

TEST(Shard, FlagOverridesEveryVariable) {
  const Shard s = Resolve("1/4", Env{{{"GTEST_SHARD_INDEX", "0"},
                                      {"GTEST_TOTAL_SHARDS", "2"},
                                      {"CI_NODE_INDEX", "2"},
                                      {"CI_NODE_TOTAL", "2"}}});
  EXPECT_EQ(s.index, 1);
  EXPECT_EQ(s.total, 4);
  EXPECT_EQ(s.source, "--shard");
}

TEST(Shard, ConventionsThatAgreeAreFine) {
  const Shard s = Resolve("", Env{{{"GTEST_SHARD_INDEX", "1"},
                                   {"GTEST_TOTAL_SHARDS", "3"},
                                   {"CI_NODE_INDEX", "2"},
                                   {"CI_NODE_TOTAL", "3"}}});
  EXPECT_EQ(s.index, 1);
  EXPECT_EQ(s.source, "GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS");
}

TEST(Shard, ConventionsThatDisagreeAreAnError) {
  // GitLab's node 1 is shard 0, not GoogleTest's shard 1.
  const std::string e = Error("", Env{{{"GTEST_SHARD_INDEX", "1"},
                                       {"GTEST_TOTAL_SHARDS", "3"},
                                       {"CI_NODE_INDEX", "1"},
                                       {"CI_NODE_TOTAL", "3"}}});
  EXPECT_NE(e.find("disagree"), std::string::npos) << e;
  EXPECT_NE(e.find("CI_NODE_INDEX"), std::string::npos) << e;
  EXPECT_NE(Error("", Env{{{"JOB_COMPLETION_INDEX", "0"},
                           {"JOB_COMPLETIONS", "2"},
                           {"CI_NODE_INDEX", "1"},
                           {"CI_NODE_TOTAL", "4"}}})
                .find("disagree"),
            std::string::npos);
}

TEST(Shard, HalfAPairIsAnErrorExceptATotalThatMeansOne) {
  EXPECT_NE(Error("", Env{{{"GTEST_SHARD_INDEX", "0"}}}).find("GTEST_TOTAL_SHARDS is not"),
            std::string::npos);
  EXPECT_NE(Error("", Env{{{"GTEST_TOTAL_SHARDS", "2"}}}).find("GTEST_SHARD_INDEX is not"),
            std::string::npos);
  EXPECT_NE(Error("", Env{{{"JOB_COMPLETION_INDEX", "3"}}}).find("spec.completions"),
            std::string::npos);
  // GitLab sets CI_NODE_TOTAL=1 in every job without `parallel:`.
  EXPECT_EQ(Resolve("", Env{{{"CI_NODE_TOTAL", "1"}}}).total, 1);
  EXPECT_EQ(Resolve("", Env{{{"JOB_COMPLETIONS", "8"}}}).total, 1);
}

TEST(Shard, BadValuesAreErrors) {
  EXPECT_NE(Error("", Env{{{"CI_NODE_INDEX", "0"}, {"CI_NODE_TOTAL", "3"}}}).find("1 <= index"),
            std::string::npos);
  EXPECT_NE(Error("", Env{{{"GTEST_SHARD_INDEX", "3"}, {"GTEST_TOTAL_SHARDS", "3"}}})
                .find("0 <= index < total"),
            std::string::npos);
  Error("", Env{{{"GTEST_SHARD_INDEX", "x"}, {"GTEST_TOTAL_SHARDS", "3"}}});
  Error("", Env{{{"JOB_COMPLETION_INDEX", "1"}, {"JOB_COMPLETIONS", "0"}}});
  EXPECT_NE(Error("4/4", Env{}).find("--shard"), std::string::npos);
  Error("1/", Env{});
  Error("1/2/3", Env{});
}

TEST(Shard, EveryRunBelongsToExactlyOneShard) {
  for (int64_t total = 1; total <= 7; ++total) {
    for (int64_t run = 0; run < 50; ++run) {
      int owners = 0;
      for (int64_t i = 0; i < total; ++i) owners += InShard(Shard{i, total, ""}, run) ? 1 : 0;
      EXPECT_EQ(owners, 1) << "run " << run << " of " << total << " shards";
    }
  }
}

TEST(Progress, CountFailuresAndTimeLeft) {
  EXPECT_EQ(ProgressText("faultline run", 0, 96, 0, 0), "faultline run: 0/96 done, 0 failing");
  // 12 runs took 60 s: 84 more take 420 s.
  EXPECT_EQ(ProgressText("faultline run", 12, 96, 1, 60),
            "faultline run: 12/96 done, 1 failing, 7m00s left");
  EXPECT_EQ(ProgressText("report", 5, 10, -1, 5), "report: 5/10 done, 5s left");
  EXPECT_EQ(ProgressText("report", 10, 10, -1, 5), "report: 10/10 done");
  EXPECT_EQ(Duration(59.6), "1m00s");
  EXPECT_EQ(Duration(7500), "2h05m");
}

}  // namespace
}  // namespace faultline::cli
