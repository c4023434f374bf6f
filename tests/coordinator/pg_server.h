// A private PostgreSQL server for tests of the PostgreSQL backend.
//
// The data directory is copied from a template made once per build tree by
// initdb (PG_TEMPLATE_DIR, guarded by a lock file so that concurrent test
// binaries make it once), into the test's own scratch directory; the server
// listens only on a unix socket there, with fsync off (-F: these tests never
// judge durability across a server crash) and dynamic shared memory in the
// data directory, so that removing the directory removes everything. When
// run as root the server runs as user `postgres` (it refuses root). It gets
// SIGKILL when the test process dies (PR_SET_PDEATHSIG), and Stop (or the
// destructor) shuts it down and waits for it, so that nothing of it is left
// running whatever happens to the test.
#pragma once

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "coordinator/pg_conn.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline::testing {

class PgServer {
 public:
  PgServer() = default;
  ~PgServer() { Stop(); }
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // Starts the server; "" on success, else what failed.
  std::string Start() {
    if (std::string e = EnsureTemplate(); !e.empty()) return e;
    dir_ = std::make_unique<TempDir>();
    if (dir_->path().empty()) return "cannot make a scratch directory";
    if (std::string e = ChownToServerUser(dir_->path()); !e.empty()) return e;
    Ran copied = Run({"/bin/cp", "-a", PG_TEMPLATE_DIR, *dir_ / "data"}, *dir_ / "cp.log");
    if (!copied.exit.exited || copied.exit.code != 0) return "copying the template: " + copied.output;
    const std::string log = *dir_ / "server.log";
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) return "fork failed";
    if (pid_ == 0) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      if (getuid() == 0 && !DropToServerUser()) _exit(126);
      // After the credentials change, which would clear it.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(125);
      const std::string data = *dir_ / "data";
      execl(PG_BINDIR "/postgres", "postgres", "-D", data.c_str(), "-k", dir_->path().c_str(),
            "-F", "-c", "listen_addresses=", "-c", "dynamic_shared_memory_type=mmap", "-c",
            "max_connections=60", "-c", "shared_buffers=16MB", "-c", "full_page_writes=off",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    // Up when a connection answers.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < give_up) {
      Exit ended;
      if (Ended(pid_, &ended)) {
        pid_ = -1;
        return "the server exited at start: " + ReadAll(log);
      }
      swarm::pg::Connection probe(ConnInfo(), 2000);
      if (probe.Exec("SELECT 1").ok()) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "the server did not answer within 60 s: " + ReadAll(log);
  }

  // Fast shutdown, then SIGKILL if it does not end; the directory goes with
  // the TempDir.
  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGINT);
      Exit e = WaitFor(pid_, std::chrono::seconds(30));
      (void)e;
      pid_ = -1;
    }
    dir_.reset();
  }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // The socket directory (PGHOST).
  const std::string& host() const { return dir_->path(); }
  std::string user() const { return getuid() == 0 ? "postgres" : CurrentUser(); }
  // A libpq key=value string for this server.
  std::string ConnInfo() const {
    return "host=" + host() + " user=" + user() + " dbname=postgres";
  }
  // Sets PGHOST, PGUSER, PGDATABASE (and clears PGPORT) for this process and
  // the processes it starts.
  void ExportEnvironment() const {
    setenv("PGHOST", host().c_str(), 1);
    setenv("PGUSER", user().c_str(), 1);
    setenv("PGDATABASE", "postgres", 1);
    unsetenv("PGPORT");
  }

 private:
  static std::string CurrentUser() {
    const passwd* pw = getpwuid(getuid());
    return pw == nullptr ? "" : pw->pw_name;
  }

  static bool DropToServerUser() {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) return false;
    return setgroups(0, nullptr) == 0 && setgid(pw->pw_gid) == 0 && setuid(pw->pw_uid) == 0;
  }

  static std::string ChownToServerUser(const std::string& path) {
    if (getuid() != 0) return "";
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) return "running as root and there is no user postgres to run the server";
    if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) return "cannot chown " + path;
    return "";
  }

  // initdb once per build tree, under a lock; made aside and renamed into
  // place, so that a half-made template is never used.
  static std::string EnsureTemplate() {
    const std::string templ = PG_TEMPLATE_DIR;
    const int lock = open((templ + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock < 0 || flock(lock, LOCK_EX) != 0) return "cannot lock " + templ + ".lock";
    std::string error;
    if (!std::filesystem::exists(templ + "/PG_VERSION")) {
      const std::string aside = templ + ".making";
      std::error_code ec;
      std::filesystem::remove_all(aside, ec);
      std::filesystem::create_directories(aside, ec);
      error = ChownToServerUser(aside);
      if (error.empty()) {
        std::vector<std::string> argv;
        if (getuid() == 0) {
          argv = {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups"};
        }
        for (const char* a : {PG_BINDIR "/initdb", "-D"}) argv.push_back(a);
        argv.push_back(aside);
        for (const char* a : {"-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"}) {
          argv.push_back(a);
        }
        argv.push_back("-U");
        argv.push_back(getuid() == 0 ? "postgres" : CurrentUser());
        Ran made = Run(argv, templ + ".initdb.log", std::chrono::seconds(120));
        if (!made.exit.exited || made.exit.code != 0) {
          error = "initdb failed: " + made.output;
        } else {
          std::filesystem::rename(aside, templ, ec);
          if (ec) error = "cannot rename " + aside + ": " + ec.message();
        }
      }
    }
    close(lock);
    return error;
  }

  std::unique_ptr<TempDir> dir_;
  pid_t pid_ = -1;
};

}  // namespace faultline::testing
