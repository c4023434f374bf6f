#include "sim/resource_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <utility>

namespace faultline {

namespace {

// The process's CPU-time clock, in microseconds (-1 when unreadable). The
// clock counts in nanoseconds; /proc/PID/stat's utime and stime count clock
// ticks (10 ms), too coarse for one reaper pass. The clock id is the
// kernel's encoding of a process CPU clock (what clock_getcpuclockid returns,
// without the extra system call it makes to check that the process exists:
// clock_gettime fails the same way when it does not).
int64_t CpuMicros(pid_t pid) {
  const clockid_t clock = static_cast<clockid_t>((~static_cast<unsigned>(pid) << 3) | 2u);
  timespec ts{};
  if (clock_gettime(clock, &ts) != 0) return -1;
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace

Usage ReadUsage(pid_t pid) {
  Usage usage;
  // statm: size resident shared text lib data dt, in pages.
  std::ifstream statm(fmt::format("/proc/{}/statm", pid));
  int64_t size_pages = 0, resident_pages = 0;
  if (statm >> size_pages >> resident_pages) {
    usage.rss_kb = resident_pages * (sysconf(_SC_PAGESIZE) / 1024);
  }
  usage.cpu_us = CpuMicros(pid);
  return usage;
}

UsageReader::~UsageReader() { Close(); }

UsageReader::UsageReader(UsageReader&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), statm_fd_(std::exchange(other.statm_fd_, -1)) {}

UsageReader& UsageReader::operator=(UsageReader&& other) noexcept {
  if (this != &other) {
    Close();
    pid_ = std::exchange(other.pid_, -1);
    statm_fd_ = std::exchange(other.statm_fd_, -1);
  }
  return *this;
}

void UsageReader::Close() {
  if (statm_fd_ >= 0) close(statm_fd_);
  statm_fd_ = -1;
  pid_ = -1;
}

Usage UsageReader::Read(pid_t pid) {
  if (pid != pid_) {
    Close();
    statm_fd_ = open(fmt::format("/proc/{}/statm", pid).c_str(), O_RDONLY | O_CLOEXEC);
    pid_ = pid;
  }
  Usage usage;
  // A pid is not reused before its process is reaped, and a reaped one's
  // file reads as an error: the file open is always this pid's process.
  char text[128];
  const ssize_t n = statm_fd_ < 0 ? -1 : pread(statm_fd_, text, sizeof text - 1, 0);
  if (n > 0) {
    text[n] = '\0';
    // statm: size resident shared text lib data dt, in pages.
    char* end = nullptr;
    std::strtoll(text, &end, 10);
    const char* resident = end;
    const long long resident_pages = std::strtoll(resident, &end, 10);
    if (end != resident) usage.rss_kb = resident_pages * (sysconf(_SC_PAGESIZE) / 1024);
  }
  usage.cpu_us = CpuMicros(pid);
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
