#include "coordinator/telemetry_spool.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fmt/format.h>

#include "base/fd_io.h"
#include "coordinator/fs_util.h"

namespace swarm::telemetry {
namespace {

constexpr const char* kLive = "live.jsonl";
constexpr const char* kOwnerLock = "owner.lock";
constexpr const char* kIncarnation = "incarnation";

bool IsSegment(std::string_view name) {
  return name.starts_with("seg-") && name.ends_with(".jsonl");
}
bool IsTemp(std::string_view name) { return name.ends_with(".tmp"); }

uint64_t SegmentSeq(std::string_view name) {
  uint64_t v = 0;
  for (char c : name.substr(4, name.size() - 4 - 6)) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

size_t CountLines(std::string_view text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Opens and flocks DIR/owner.lock without blocking: the fd, or Busy.
Result<int> LockOwner(const std::string& dir) {
  const std::string path = dir + "/" + kOwnerLock;
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(errno, "open " + path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) return Status::Busy(path + " is held: its owner is running");
    return Status::FromErrno(err, "flock " + path);
  }
  return fd;
}

off_t FileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

// Temp files of seals that a crash interrupted; only called under the owner lock.
void RemoveTemps(const std::string& dir, const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (IsTemp(n)) unlink((dir + "/" + n).c_str());
  }
}

Result<Segment> ReadSegment(const std::string& dir, const std::string& name) {
  auto text = fs::ReadFile(dir + "/" + name);
  if (!text.ok()) return text.status();
  Segment s;
  s.name = name;
  s.bytes = text->size();
  s.spans = ParseSpoolText(*text, &s.unreadable);
  return s;
}

}  // namespace

std::string SpoolRoot(const std::string& coord_dir) { return coord_dir + "/spool"; }

// ---------------------------------------------------------------------------
// OwnedSpool

OwnedSpool::OwnedSpool(std::string dir, Limits limits, int lock_fd)
    : dir_(std::move(dir)), limits_(limits), lock_fd_(lock_fd) {}

OwnedSpool::~OwnedSpool() {
  if (live_fd_ >= 0) close(live_fd_);
  if (lock_fd_ >= 0) close(lock_fd_);  // drops the flock
}

Result<std::unique_ptr<OwnedSpool>> OwnedSpool::Open(const std::string& coord_dir,
                                                     const std::string& agent, Limits limits) {
  SWARM_RETURN_IF_ERROR(fs::MakeDir(SpoolRoot(coord_dir)));
  const std::string dir = SpoolRoot(coord_dir) + "/" + agent;
  SWARM_RETURN_IF_ERROR(fs::MakeDir(dir));
  auto fd = LockOwner(dir);
  if (!fd.ok()) return fd.status();
  std::unique_ptr<OwnedSpool> spool(new OwnedSpool(dir, limits, *fd));
  SWARM_RETURN_IF_ERROR(spool->Load());
  return spool;
}

Status OwnedSpool::Load() {
  // The incarnation first: a start that fails later still counts, so that
  // the next one never reuses its span ids.
  const std::string inc_path = dir_ + "/" + kIncarnation;
  if (auto text = fs::ReadFile(inc_path); text.ok()) {
    incarnation_ = std::strtoull(text->c_str(), nullptr, 10);
  } else if (text.status().code() != Status::Code::kNotFound) {
    return text.status();
  }
  ++incarnation_;
  SWARM_RETURN_IF_ERROR(fs::WriteAtomic(dir_, inc_path, std::to_string(incarnation_) + "\n"));

  auto names = fs::ListDir(dir_);
  if (!names.ok()) return names.status();
  RemoveTemps(dir_, *names);
  for (const std::string& n : *names) {
    if (!IsSegment(n)) continue;
    auto text = fs::ReadFile(dir_ + "/" + n);
    if (!text.ok()) return text.status();
    names_.push_back(n);
    spans_per_.push_back(CountLines(*text));
    bytes_per_.push_back(text->size());
    spans_ += spans_per_.back();
    bytes_ += bytes_per_.back();
    next_seq_ = std::max(next_seq_, SegmentSeq(n) + 1);
  }
  const std::string live = dir_ + "/" + kLive;
  if (auto text = fs::ReadFile(live); text.ok()) {
    leftover_ = ParseSpoolText(*text, nullptr);
    // Rewrite it without a torn last line, so that appends start clean.
    if (!text->empty() && text->back() != '\n') {
      std::string clean;
      for (const Span& s : leftover_) clean += ToSpoolLine(s) + "\n";
      SWARM_RETURN_IF_ERROR(fs::WriteAtomic(dir_, live, clean));
    }
  } else if (text.status().code() != Status::Code::kNotFound) {
    return text.status();
  }
  live_fd_ = open(live.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (live_fd_ < 0) return Status::FromErrno(errno, "open " + live);
  return Status::Ok();
}

Status OwnedSpool::AppendLive(const Span& span) {
  const std::string line = ToSpoolLine(span) + "\n";
  const off_t before = lseek(live_fd_, 0, SEEK_END);
  if (!base::WriteAll(live_fd_, line)) {
    Status s = Status::FromErrno(errno, "append to " + dir_ + "/" + kLive);
    // Never leave half a line for the next append to continue.
    if (before >= 0 && ftruncate(live_fd_, before) != 0) {
      return Status::FromErrno(errno, "truncate " + dir_ + "/" + kLive);
    }
    return s;
  }
  return Status::Ok();
}

Status OwnedSpool::ClearLive() {
  if (ftruncate(live_fd_, 0) != 0) {
    return Status::FromErrno(errno, "truncate " + dir_ + "/" + kLive);
  }
  return Status::Ok();
}

bool OwnedSpool::Fits(size_t spans, size_t bytes) const {
  return spans_ + spans <= limits_.max_spans && bytes_ + bytes <= limits_.max_bytes;
}

size_t OwnedSpool::SealedBytes(const std::vector<Span>& batch) {
  size_t n = 0;
  for (const Span& s : batch) n += ToSpoolLine(s).size() + 1;
  return n;
}

Status OwnedSpool::Seal(const std::vector<Span>& batch) {
  std::string text;
  for (const Span& s : batch) text += ToSpoolLine(s) + "\n";
  const std::string name = fmt::format("seg-{:012}.jsonl", next_seq_);
  SWARM_RETURN_IF_ERROR(fs::WriteAtomic(dir_, dir_ + "/" + name, text));
  ++next_seq_;
  names_.push_back(name);
  spans_per_.push_back(batch.size());
  bytes_per_.push_back(text.size());
  spans_ += batch.size();
  bytes_ += text.size();
  return Status::Ok();
}

Result<std::optional<Segment>> OwnedSpool::Oldest() {
  while (!names_.empty()) {
    auto seg = ReadSegment(dir_, names_.front());
    if (seg.ok()) return std::optional<Segment>(std::move(*seg));
    if (seg.status().code() != Status::Code::kNotFound) return seg.status();
    // Gone (removed by hand): forget it.
    spans_ -= spans_per_.front();
    bytes_ -= bytes_per_.front();
    names_.erase(names_.begin());
    spans_per_.erase(spans_per_.begin());
    bytes_per_.erase(bytes_per_.begin());
  }
  return std::optional<Segment>();
}

Status OwnedSpool::Remove(const Segment& segment) {
  SWARM_RETURN_IF_ERROR(fs::Remove(dir_ + "/" + segment.name, /*durable=*/false));
  auto it = std::find(names_.begin(), names_.end(), segment.name);
  if (it != names_.end()) {
    const auto i = static_cast<size_t>(it - names_.begin());
    spans_ -= spans_per_[i];
    bytes_ -= bytes_per_[i];
    names_.erase(it);
    spans_per_.erase(spans_per_.begin() + static_cast<std::ptrdiff_t>(i));
    bytes_per_.erase(bytes_per_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// OrphanSpool

namespace {

bool HoldsAnything(const std::string& dir, const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (IsSegment(n)) return true;
  }
  return FileSize(dir + "/" + kLive) > 0;
}

}  // namespace

Result<std::unique_ptr<OrphanSpool>> OrphanSpool::Claim(const std::string& coord_dir,
                                                        const std::string& agent) {
  const std::string dir = SpoolRoot(coord_dir) + "/" + agent;
  auto names = fs::ListDir(dir);
  if (!names.ok()) return names.status();
  if (!HoldsAnything(dir, *names)) return Status::NotFound(dir + " holds no spans");
  auto fd = LockOwner(dir);
  if (!fd.ok()) return fd.status();
  return std::unique_ptr<OrphanSpool>(new OrphanSpool(dir, *fd));
}

OrphanSpool::~OrphanSpool() {
  if (lock_fd_ >= 0) close(lock_fd_);
}

Result<std::vector<Segment>> OrphanSpool::Read() {
  auto names = fs::ListDir(dir_);
  if (!names.ok()) return names.status();
  RemoveTemps(dir_, *names);
  std::vector<Segment> out;
  std::vector<std::string> wanted;
  for (const std::string& n : *names) {
    if (IsSegment(n)) wanted.push_back(n);
  }
  if (FileSize(dir_ + "/" + kLive) > 0) wanted.push_back(kLive);
  for (const std::string& n : wanted) {
    auto seg = ReadSegment(dir_, n);
    if (seg.ok()) {
      out.push_back(std::move(*seg));
    } else if (seg.status().code() != Status::Code::kNotFound) {
      return seg.status();
    }
  }
  return out;
}

Status OrphanSpool::Remove(const Segment& segment) {
  return fs::Remove(dir_ + "/" + segment.name, /*durable=*/false);
}

Result<std::vector<std::string>> SpoolOwners(const std::string& coord_dir) {
  const std::string root = SpoolRoot(coord_dir);
  if (!fs::IsDirectory(root)) return std::vector<std::string>();
  auto agents = fs::ListDir(root);
  if (!agents.ok()) return agents.status();
  std::vector<std::string> out;
  for (const std::string& a : *agents) {
    auto names = fs::ListDir(root + "/" + a);
    if (names.ok() && HoldsAnything(root + "/" + a, *names)) out.push_back(a);
  }
  return out;
}

Result<std::vector<Backlog>> SpoolBacklog(const std::string& coord_dir) {
  const std::string root = SpoolRoot(coord_dir);
  std::vector<Backlog> out;
  if (!fs::IsDirectory(root)) return out;
  auto agents = fs::ListDir(root);
  if (!agents.ok()) return agents.status();
  for (const std::string& a : *agents) {
    const std::string dir = root + "/" + a;
    auto names = fs::ListDir(dir);
    if (!names.ok()) continue;
    Backlog b;
    b.agent = a;
    for (const std::string& n : *names) {
      if (!IsSegment(n) && n != kLive) continue;
      auto text = fs::ReadFile(dir + "/" + n);
      if (!text.ok()) continue;
      b.segments += IsSegment(n);
      b.spans += CountLines(*text);
      b.bytes += text->size();
    }
    // A free owner lock means nobody runs under this id; take it only for
    // the moment of the probe.
    if (auto fd = LockOwner(dir); fd.ok()) {
      close(*fd);
    } else {
      b.owner_running = fd.status().IsBusy();
    }
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace swarm::telemetry
