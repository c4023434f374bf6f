// Which share of a suite one process runs. A suite is the list of runs
// (scenario x seed, in order); shard I of N does the runs whose index modulo
// N is I. The shard comes from the command line (--shard I/N) or from the
// sharding variables of the CI systems faultline is run by:
//
//   GTEST_SHARD_INDEX / GTEST_TOTAL_SHARDS   GoogleTest, 0-based (CTest, any CI)
//   CI_NODE_INDEX / CI_NODE_TOTAL            GitLab CI `parallel:`, 1-based
//   JOB_COMPLETION_INDEX / JOB_COMPLETIONS   Kubernetes Indexed Job, 0-based; the
//                                            Job must pass its spec.completions
//                                            as JOB_COMPLETIONS
//
// Precedence: --shard wins over every variable. Among the variables, every
// convention that is set must name the same shard; two that disagree are an
// error, as is half of a pair (an index without its total; GitLab's
// CI_NODE_TOTAL alone is normal and means one node, as does
// JOB_COMPLETIONS alone).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace faultline::cli {

struct Shard {
  int64_t index = 0;  // 0-based
  int64_t total = 1;
  std::string source;  // "--shard", "GTEST_SHARD_INDEX/GTEST_TOTAL_SHARDS", ...; "" unsharded
};

using EnvLookup = std::function<const char*(const char*)>;

// The shard of this process from `flag` ("I/N" or "") and the environment as
// `env` reports it (std::getenv in the binary). False with `*error` saying
// which variables or flag are wrong and what to do.
bool ResolveShard(const std::string& flag, const EnvLookup& env, Shard* shard, std::string* error);

// Whether run number `index` of the suite belongs to `shard`.
inline bool InShard(const Shard& shard, int64_t index) {
  return index % shard.total == shard.index;
}

}  // namespace faultline::cli
