#include "sim/resource_log.h"

#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <fstream>

namespace faultline {

Usage ReadUsage(pid_t pid) {
  Usage usage;
  // statm: size resident shared text lib data dt, in pages.
  std::ifstream statm(fmt::format("/proc/{}/statm", pid));
  int64_t size_pages = 0, resident_pages = 0;
  if (statm >> size_pages >> resident_pages) {
    usage.rss_kb = resident_pages * (sysconf(_SC_PAGESIZE) / 1024);
  }
  // The CPU-time clock counts in nanoseconds; /proc/PID/stat's utime and
  // stime count clock ticks (10 ms), too coarse for one reaper pass.
  clockid_t clock{};
  timespec ts{};
  if (clock_getcpuclockid(pid, &clock) == 0 && clock_gettime(clock, &ts) == 0) {
    usage.cpu_us = static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
  }
  return usage;
}

ResourceLog::ResourceLog(const std::string& path)
    : file_(path.empty() ? nullptr : std::fopen(path.c_str(), "we")) {
  failed_ = !path.empty() && file_ == nullptr;
}

ResourceLog::~ResourceLog() { Close(); }

void ResourceLog::Add(const ResourceSample& sample) {
  samples_.push_back(sample);
  if (file_ == nullptr) return;
  const std::string line = sample.ToJson().dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) failed_ = true;
}

bool ResourceLog::Close() {
  if (file_ != nullptr) {
    if (std::fclose(file_) != 0) failed_ = true;
    file_ = nullptr;
  }
  return !failed_;
}

}  // namespace faultline
