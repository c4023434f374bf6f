#include "sim/pg_server.h"

#include <dirent.h>
#include <string.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <vector>

#include "base/child_process.h"
#include "base/monotonic_clock.h"

namespace faultline {
namespace {

namespace stdfs = std::filesystem;

void PauseMs(int ms) {
  const timespec pause{0, ms * 1'000'000L};
  nanosleep(&pause, nullptr);
}

std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last.empty() ? "(the server log is empty)" : last;
}

// The user the server runs as: `postgres` when this process is root (the
// server refuses root), else this process's own.
base::Status ServerUser(uid_t* uid, gid_t* gid) {
  if (geteuid() != 0) {
    *uid = geteuid();
    *gid = getegid();
    return base::Status::Ok();
  }
  const passwd* pw = getpwnam("postgres");
  if (pw == nullptr) {
    return base::Status::NotFound(
        "running as root, the database server needs the unprivileged user `postgres` "
        "(created by the postgresql package; ./dev.sh installs it)");
  }
  *uid = pw->pw_uid;
  *gid = pw->pw_gid;
  return base::Status::Ok();
}

base::Status ChownTree(const std::string& root, uid_t uid, gid_t gid) {
  if (lchown(root.c_str(), uid, gid) != 0) return base::Status::FromErrno(errno, "chown " + root);
  std::error_code ec;
  for (auto it = stdfs::recursive_directory_iterator(root, ec);
       !ec && it != stdfs::recursive_directory_iterator(); it.increment(ec)) {
    if (lchown(it->path().c_str(), uid, gid) != 0) {
      return base::Status::FromErrno(errno, "chown " + it->path().string());
    }
  }
  if (ec) return base::Status::IOError("walking " + root + ": " + ec.message());
  return base::Status::Ok();
}

// Runs `argv` as uid/gid (when this process is root) with its output
// appended to `log`, and waits. Used for initdb, which the cache needs once.
base::Status RunAs(const std::vector<std::string>& argv, uid_t uid, gid_t gid,
                   const std::string& log) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const bool root = geteuid() == 0;
  const pid_t pid = fork();
  if (pid < 0) return base::Status::FromErrno(errno, "fork for " + argv[0]);
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (root && (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0)) _exit(126);
    base::ResetSignalsForExec();
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return base::Status::IOError(
        fmt::format("{} failed (status {}): {}", argv[0], status, LastLine(log)));
  }
  return base::Status::Ok();
}

std::string CacheDir() {
  if (const char* c = std::getenv("FAULTLINE_PG_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/faultline";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.cache/faultline";
}

// The cached template cluster for the programs of `bin` (initdb'd once; a
// concurrent first run initdbs its own and the first rename wins).
base::Result<std::string> EnsureTemplate(const std::string& bin, uid_t uid, gid_t gid,
                                         bool* made) {
  *made = false;
  // The version is the name of the directory above bin/ (/usr/lib/postgresql/15/bin).
  const std::string version = stdfs::path(bin).parent_path().filename().string();
  const std::string cache = CacheDir();
  const std::string tmpl = fmt::format("{}/pg{}-template", cache, version);
  if (stdfs::exists(tmpl + "/PG_VERSION")) return tmpl;
  std::error_code ec;
  stdfs::create_directories(cache, ec);
  if (ec) return base::Status::IOError("cannot create the cache " + cache + ": " + ec.message());
  // initdb runs as the server's user, in a directory it owns: /tmp, since the
  // cache may be in a home it cannot enter.
  char work[] = "/tmp/faultline-initdb-XXXXXX";
  if (mkdtemp(work) == nullptr) return base::Status::FromErrno(errno, "mkdtemp for initdb");
  const std::string data = std::string(work) + "/data";
  const std::string log = std::string(work) + "/initdb.log";
  base::Status st = ChownTree(work, uid, gid);
  if (st.ok()) {
    st = RunAs({bin + "/initdb", "-D", data, "-U", PgServer::kUser, "-A", "trust", "-E", "UTF8",
                "--locale=C", "--no-sync", "--no-instructions"},
               uid, gid, log);
  }
  if (st.ok()) {
    const std::string staged = fmt::format("{}.{}", tmpl, getpid());
    stdfs::remove_all(staged, ec);
    stdfs::copy(data, staged, stdfs::copy_options::recursive, ec);
    if (ec) {
      st = base::Status::IOError("copying the template to " + staged + ": " + ec.message());
    } else if (rename(staged.c_str(), tmpl.c_str()) != 0) {
      stdfs::remove_all(staged, ec);  // another run was first: its template serves
    } else {
      *made = true;
    }
  }
  stdfs::remove_all(work, ec);
  if (!st.ok()) return st;
  return tmpl;
}

// postmaster.pid, line by line (the server's own record of its state).
std::vector<std::string> PidFileLines(const std::string& data_dir) {
  std::ifstream in(data_dir + "/postmaster.pid");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Processes whose parent is `parent` (in this process's /proc).
std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    const int fd = open(fmt::format("/proc/{}/stat", pid).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[512];
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    // "pid (comm) state ppid ...": comm may hold anything, so parse after the last ')'.
    const char* close_paren = strrchr(buf, ')');
    if (close_paren == nullptr) continue;
    char state = 0;
    int ppid = 0;
    if (sscanf(close_paren + 1, " %c %d", &state, &ppid) == 2 && ppid == parent) {
      out.push_back(pid);
    }
  }
  closedir(d);
  return out;
}

}  // namespace

base::Result<std::string> FindPostgresBin() {
  if (const char* b = std::getenv("FAULTLINE_PG_BIN"); b && *b) {
    if (access((std::string(b) + "/postgres").c_str(), X_OK) != 0) {
      return base::Status::NotFound(
          fmt::format("FAULTLINE_PG_BIN={} has no executable `postgres`", b));
    }
    return std::string(b);
  }
  std::vector<std::pair<int, std::string>> found;
  std::error_code ec;
  for (auto it = stdfs::directory_iterator("/usr/lib/postgresql", ec);
       !ec && it != stdfs::directory_iterator(); it.increment(ec)) {
    const std::string bin = it->path().string() + "/bin";
    if (access((bin + "/postgres").c_str(), X_OK) == 0 &&
        access((bin + "/initdb").c_str(), X_OK) == 0) {
      found.emplace_back(std::atoi(it->path().filename().c_str()), bin);
    }
  }
  if (found.empty()) {
    return base::Status::NotFound(
        "this scenario runs on PostgreSQL (\"store\": \"postgres\") but no server is installed: "
        "no /usr/lib/postgresql/<version>/bin with initdb and postgres (./dev.sh installs "
        "the postgresql package; or set FAULTLINE_PG_BIN)");
  }
  std::sort(found.begin(), found.end());
  return found.back().second;
}

base::Result<std::unique_ptr<PgServer>> PgServer::Create(const std::string& dir,
                                                          const std::string& log_path) {
  const int64_t t0 = base::MonotonicMicros();
  std::unique_ptr<PgServer> s(new PgServer());
  base::Result<std::string> bin = FindPostgresBin();
  if (!bin.ok()) return bin.status();
  s->bin_ = *bin;
  BASE_RETURN_IF_ERROR(ServerUser(&s->uid_, &s->gid_));
  base::Result<std::string> tmpl = EnsureTemplate(s->bin_, s->uid_, s->gid_, &s->made_template_);
  if (!tmpl.ok()) return tmpl.status();
  s->data_dir_ = dir + "/data";
  s->socket_dir_ = dir + "/sock";
  s->log_path_ = log_path;
  std::error_code ec;
  if (!stdfs::create_directory(dir, ec) || ec) {
    return base::Status::IOError("cannot create " + dir + ": " + (ec ? ec.message() : "exists"));
  }
  // The server's user must pass through the directories above (the run's
  // scratch directory is private to this user: only traversal is added).
  const stdfs::path parent = stdfs::path(dir).parent_path();
  stdfs::permissions(parent, stdfs::perms::others_exec | stdfs::perms::group_exec,
                     stdfs::perm_options::add, ec);
  chmod(dir.c_str(), 0711);
  stdfs::copy(*tmpl, s->data_dir_, stdfs::copy_options::recursive, ec);
  if (ec) return base::Status::IOError("copying the template cluster: " + ec.message());
  stdfs::create_directory(s->socket_dir_, ec);
  BASE_RETURN_IF_ERROR(ChownTree(s->data_dir_, s->uid_, s->gid_));
  BASE_RETURN_IF_ERROR(ChownTree(s->socket_dir_, s->uid_, s->gid_));
  chmod(s->data_dir_.c_str(), 0700);
  chmod(s->socket_dir_.c_str(), 0700);
  s->create_us_ = base::MonotonicMicros() - t0;
  return s;
}

PgServer::~PgServer() { Kill(); }

std::string PgServer::socket_path() const { return socket_dir_ + "/.s.PGSQL.5432"; }

base::Status PgServer::Start(int64_t timeout_ms) {
  if (pid_ > 0) return base::Status::Ok();
  const int64_t t0 = base::MonotonicMicros();
  // The pid file of an earlier, crashed incarnation stays (the new server
  // reads it to clean up after it); ready means a new pid in it.
  const std::vector<std::string> before = PidFileLines(data_dir_);
  const std::string old_pid = before.empty() ? "" : before[0];
  const std::vector<std::string> argv = {
      bin_ + "/postgres", "-D", data_dir_, "-k", socket_dir_,
      // The socket only; no port anyone else could take.
      "-c", "listen_addresses=",
      "-c", "fsync=off",
      "-c", "synchronous_commit=on",
      "-c", "full_page_writes=off",
      "-c", "shared_buffers=16MB",
      "-c", "max_connections=200",
      // Dynamic shared memory as files in the data directory, which goes
      // with the run (POSIX segments would outlive a killed server in /dev/shm).
      "-c", "dynamic_shared_memory_type=mmap",
      "-c", "max_wal_size=64MB",
      "-c", "log_min_messages=warning",
      "-c", "logging_collector=off"};
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const bool root = geteuid() == 0;
  const pid_t pid = fork();
  if (pid < 0) return base::Status::FromErrno(errno, "fork for postgres");
  if (pid == 0) {
    setpgid(0, 0);
    const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd >= 0) dup2(null_fd, 0);
    const int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    // A private System V IPC namespace: the server's one small segment goes
    // when its last process does, also when it is SIGKILLed.
    if (root) unshare(CLONE_NEWIPC);
    if (root && (setgroups(0, nullptr) != 0 || setgid(gid_) != 0 || setuid(uid_) != 0)) _exit(126);
    // After the change of user, which clears it.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    base::ResetSignalsForExec();
    execv(args[0], args.data());
    _exit(127);
  }
  pid_ = pid;
  const int64_t deadline = t0 + timeout_ms * 1000;
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return base::Status::IOError(
          fmt::format("the database server exited at its start (status {}): {}", status,
                      LastLine(log_path_)));
    }
    const std::vector<std::string> lines = PidFileLines(data_dir_);
    if (lines.size() >= 8 && lines[0] != old_pid && lines[7].rfind("ready", 0) == 0 &&
        access(socket_path().c_str(), F_OK) == 0) {
      break;
    }
    if (base::MonotonicMicros() > deadline) {
      Kill();
      return base::Status::IOError(fmt::format(
          "the database server was not ready within {} ms: {}", timeout_ms, LastLine(log_path_)));
    }
    PauseMs(2);
  }
  start_us_ = base::MonotonicMicros() - t0;
  return base::Status::Ok();
}

void PgServer::Kill() {
  if (pid_ <= 0) return;
  // Backends are their own process groups (the postmaster makes each one a
  // session leader): stop the postmaster so that it forks no more, kill its
  // children, then it. All die before any could notice another's death.
  kill(pid_, SIGSTOP);
  std::vector<pid_t> children = ChildrenOf(pid_);
  for (pid_t c : children) kill(c, SIGKILL);
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  // The children were reparented (to the run's init, or to this process as
  // subreaper, which reaps them here); wait until every one is gone.
  const int64_t deadline = base::MonotonicMicros() + 10'000'000;
  for (pid_t c : children) {
    while (base::MonotonicMicros() < deadline) {
      if (waitpid(c, nullptr, WNOHANG) == c) break;
      if (kill(c, 0) != 0 && errno == ESRCH) break;
      PauseMs(1);
    }
  }
  pid_ = -1;
}

base::Status PgServer::Stop(int64_t timeout_ms, bool immediate) {
  if (pid_ <= 0) return base::Status::Ok();
  kill(pid_, immediate ? SIGQUIT : SIGINT);
  const int64_t deadline = base::MonotonicMicros() + timeout_ms * 1000;
  while (base::MonotonicMicros() < deadline) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return base::Status::Ok();
    }
    PauseMs(2);
  }
  Kill();
  return base::Status::IOError(
      fmt::format("the database server did not shut down within {} ms; it was killed",
                  timeout_ms));
}

}  // namespace faultline
