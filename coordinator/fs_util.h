// File-system primitives of the fs backend, every one returning a Status that
// names the file and the failing call. Writes are atomic and durable: a crash
// at any point leaves the target either old or new, never torn.
//
// Durability after the fact: WriteAtomic, CreateAtomic, Touch, Link, Rename
// and a durable Remove open the directory first (so that running out of
// descriptors fails them before anything changed), then make their change
// (rename, link, create, unlink) and fsync the directory. When only that
// fsync fails, the change has already happened — every process sees it, and
// taking it back would be no more atomic than making it — so the call
// succeeds, and the failure is kept for TakeUnsyncedError: the change stands
// for everyone but may not survive a crash of the machine (a crash of a
// process loses nothing).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coordinator/status.h"

namespace swarm::fs {

// Whole-file read. NotFound when the file does not exist.
Result<std::string> ReadFile(const std::string& path);

// Replaces `path` with `data`: temp file in `tmp_dir` (same file system),
// write, fsync, rename over `path`, fsync of `path`'s directory. On failure
// the temp file is removed and `path` is untouched.
Status WriteAtomic(const std::string& tmp_dir, const std::string& path, std::string_view data);

// Creates `path` with `data` only if it does not exist yet, atomically and
// durably (temp file, fsync, link, fsync dir). Conflict when it exists. With
// `unsynced`, a directory fsync that fails once the file is made goes there
// instead of to TakeUnsyncedError (the call still succeeds: the file stands),
// for a caller whose next step must not be durable before this one is.
Status CreateAtomic(const std::string& tmp_dir, const std::string& path, std::string_view data,
                    Status* unsynced = nullptr);

// Creates an empty file if missing (O_CREAT, no O_TRUNC) and fsyncs its dir.
Status Touch(const std::string& path);

// Unlinks `path`; a missing file is not an error. Fsyncs the directory when
// `durable`.
Status Remove(const std::string& path, bool durable);

// Hard-links `from` as `to` (which must not exist) and fsyncs `to`'s directory.
Status Link(const std::string& from, const std::string& to);

// Renames within one file system and fsyncs the destination directory.
Status Rename(const std::string& from, const std::string& to);

Status FsyncDir(const std::string& dir);

// The first directory fsync that failed after its change was made (see the
// top of this file) since the last call, on this thread; Ok if none.
Status TakeUnsyncedError();
Status MakeDir(const std::string& dir);  // existing directory is fine

// Names in `dir` (no "." entries, no dot files), sorted: callers never see
// the file system's own order.
Result<std::vector<std::string>> ListDir(const std::string& dir);

// Ok when a new coordination directory may be made at `dir`: it does not
// exist, or is a directory with nothing in it (dot files aside, as ListDir).
// InvalidArgument naming `dir` and what to do otherwise.
Status CheckEmptyOrNew(const std::string& dir);

// `name` without `suffix` ("w1.json", ".json" -> "w1"); "" when `name` does
// not end in `suffix` or is nothing but it.
std::string StripSuffix(const std::string& name, std::string_view suffix);

bool Exists(const std::string& path);
// Whether `path` exists, telling "no" (ENOENT, ENOTDIR) from "cannot tell"
// (any other stat error: IOError), which Exists folds into false.
Result<bool> Present(const std::string& path);
bool IsDirectory(const std::string& path);
std::string DirName(const std::string& path);

// A temp-file name unique to this process: DIR/<pid>.<seq>.<hint>.tmp.
std::string TempPath(const std::string& tmp_dir, std::string_view hint);
// The writer pid encoded in a TempPath name, or 0.
int TempFileOwner(std::string_view name);

// kill(pid, 0) says the process exists (EPERM counts as alive).
bool ProcessAlive(int pid);

// A directory its user keeps open, so that the calls below that take one
// work relative to its descriptor: no lookup of the directory's path per
// call, and no open and close of it per change (the directory fsync goes
// through the kept descriptor). Opened on first use; while it cannot be
// opened (no descriptor left, no such directory), each call works by path
// exactly as its path-taking namesake above, and the open is tried again at
// the next call. Error messages name full paths, as the path-taking calls do.
// A kept descriptor follows the directory it was opened on: keep a Dir only
// as long as nobody replaces the directory under its path.
class Dir {
 public:
  explicit Dir(std::string path) : path_(std::move(path)) {}
  ~Dir();
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;

  const std::string& path() const { return path_; }
  std::string Join(std::string_view name) const;
  // The descriptor, opening it if needed; -1 if it cannot be opened now.
  int fd();

 private:
  std::string path_;
  int fd_ = -1;
};

// The calls above, for `name` in `dir` (temp files in `tmp`).
Result<std::string> ReadFile(Dir& dir, std::string_view name);
Status WriteAtomic(Dir& tmp, Dir& dir, std::string_view name, std::string_view data);
Status CreateAtomic(Dir& tmp, Dir& dir, std::string_view name, std::string_view data,
                    Status* unsynced = nullptr);
Status Touch(Dir& dir, std::string_view name);
Status Remove(Dir& dir, std::string_view name, bool durable);
bool Exists(Dir& dir, std::string_view name);
Status FsyncDir(Dir& dir);

}  // namespace swarm::fs
