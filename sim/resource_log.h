// Resource measurement of the processes a run controls (docs/determinism.md):
// ReadUsage reads one live process's resident set and CPU time; ResourceLog
// writes the samples to the run directory's resources.jsonl as they are taken
// and keeps them for the checkers, which see them after the whole trace.
//
// Thread-compatible.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "sim/resource_sample.h"

namespace faultline {

struct Usage {
  int64_t rss_kb = -1;  // /proc/PID/statm resident pages; -1 when unreadable
  int64_t cpu_us = -1;  // the process's CPU-time clock; -1 when unreadable
};

// What `pid` (a child of this process, alive or a zombie) uses now.
Usage ReadUsage(pid_t pid);

// ReadUsage for samples taken again and again (lockstep samples a process
// at every sleep): keeps the process's /proc/PID/statm open and reads it
// with pread, instead of a path lookup, open and close per sample. Reads
// the same figures as ReadUsage. Movable, not copyable; closes its file.
class UsageReader {
 public:
  UsageReader() = default;
  ~UsageReader();
  UsageReader(UsageReader&& other) noexcept;
  UsageReader& operator=(UsageReader&& other) noexcept;
  UsageReader(const UsageReader&) = delete;
  UsageReader& operator=(const UsageReader&) = delete;

  // What `pid` uses now; a pid other than the last one's (a restart) opens
  // its file afresh.
  Usage Read(pid_t pid);

 private:
  void Close();
  pid_t pid_ = -1;
  int statm_fd_ = -1;
};

class ResourceLog {
 public:
  // Opens `path` for writing (truncates); "" keeps the samples in memory only.
  explicit ResourceLog(const std::string& path);
  ~ResourceLog();
  ResourceLog(const ResourceLog&) = delete;
  ResourceLog& operator=(const ResourceLog&) = delete;

  void Add(const ResourceSample& sample);
  const std::vector<ResourceSample>& samples() const { return samples_; }
  // Flushes and closes the file; false if a write failed (the samples in
  // memory are complete all the same).
  bool Close();

 private:
  std::FILE* file_ = nullptr;
  bool failed_ = false;
  std::vector<ResourceSample> samples_;
};

}  // namespace faultline
