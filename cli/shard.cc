#include "cli/shard.h"

#include <cstdio>
#include <vector>

namespace faultline::cli {
namespace {

struct Convention {
  const char* index_var;
  const char* total_var;
  int64_t first;          // the index of the first shard: 0, or 1 for GitLab
  bool total_alone_fine;  // set without its index it means "one shard"
  const char* hint;       // what to do when the index is set but the total is not
};

const Convention kConventions[] = {
    {"GTEST_SHARD_INDEX", "GTEST_TOTAL_SHARDS", 0, false, "set both (GoogleTest's convention)"},
    {"CI_NODE_INDEX", "CI_NODE_TOTAL", 1, true, "GitLab sets both for a job with `parallel: N`"},
    {"JOB_COMPLETION_INDEX", "JOB_COMPLETIONS", 0, true,
     "pass the Job's spec.completions as the environment variable JOB_COMPLETIONS"},
};

bool ParseInt(const char* text, int64_t* out) {
  long long v = 0;
  char extra = 0;
  if (std::sscanf(text, "%lld%c", &v, &extra) != 1) return false;
  *out = v;
  return true;
}

std::string Describe(const Shard& s) {
  return std::to_string(s.index) + "/" + std::to_string(s.total) + " (from " + s.source + ")";
}

}  // namespace

bool ResolveShard(const std::string& flag, const EnvLookup& env, Shard* shard, std::string* error) {
  if (!flag.empty()) {
    long long i = -1, n = -1;
    char slash = 0, extra = 0;
    if (std::sscanf(flag.c_str(), "%lld%c%lld%c", &i, &slash, &n, &extra) != 3 || slash != '/' ||
        n < 1 || i < 0 || i >= n) {
      *error = "--shard is \"" + flag + "\"; expected I/N with 0 <= I < N (e.g. --shard 0/4)";
      return false;
    }
    *shard = Shard{i, n, "--shard"};
    return true;
  }
  std::vector<Shard> found;
  for (const Convention& c : kConventions) {
    const char* index = env(c.index_var);
    const char* total = env(c.total_var);
    const std::string pair = std::string(c.index_var) + "/" + c.total_var;
    if (index == nullptr && total == nullptr) continue;
    if (index == nullptr) {
      if (c.total_alone_fine) continue;
      *error = std::string(c.total_var) + " is set but " + c.index_var + " is not; " + c.hint;
      return false;
    }
    if (total == nullptr) {
      *error = std::string(c.index_var) + " is set but " + c.total_var + " is not; " + c.hint;
      return false;
    }
    int64_t i = 0, n = 0;
    if (!ParseInt(index, &i) || !ParseInt(total, &n) || n < 1 || i < c.first || i >= n + c.first) {
      *error = pair + " is \"" + index + "/" + total + "\"; expected " +
               (c.first == 0 ? "0 <= index < total" : "1 <= index <= total") + ", integers";
      return false;
    }
    found.push_back(Shard{i - c.first, n, pair});
  }
  for (const Shard& s : found) {
    if (s.index != found.front().index || s.total != found.front().total) {
      *error = "the sharding variables disagree: shard " + Describe(found.front()) + " but shard " +
               Describe(s) + "; unset one of them, or pass --shard I/N, which overrides them";
      return false;
    }
  }
  *shard = found.empty() ? Shard{} : found.front();
  return true;
}

}  // namespace faultline::cli
