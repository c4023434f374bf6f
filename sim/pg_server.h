// A PostgreSQL server of one run (docs/postgres.md): a cluster copied from a
// cached template into the run's scratch directory, a postmaster listening on
// a Unix socket in that directory only (no TCP port: runs side by side never
// collide), run as the unprivileged user `postgres` when the harness is root.
//
// The postmaster is a child of this process started after the run's
// containment (sim/run_containment.h), so it and every backend are born in
// the run's PID namespace and die with the run even when the harness is
// SIGKILLed; the data directory is inside the scratch directory, which the
// supervisor removes.
//
// Durability: fsync is off. A crash here is a process crash (SIGKILL of the
// postmaster and its backends), which loses nothing written to the kernel;
// with synchronous_commit on, a commit is acknowledged only after its WAL is
// written, so crash recovery finds every acknowledged transaction. A power
// loss of the database host is not modelled.
//
// Threads: one thread (the engine's); not thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace faultline {

// Where the PostgreSQL programs are: $FAULTLINE_PG_BIN, else the newest
// /usr/lib/postgresql/<version>/bin that has initdb and postgres. Error
// naming what to install when there is none.
base::Result<std::string> FindPostgresBin();

class PgServer {
 public:
  // The role and database every client uses (PGUSER, PGDATABASE); trust
  // authentication on the private socket.
  static constexpr const char* kUser = "faultline";
  static constexpr const char* kDatabase = "postgres";

  // Makes the cluster in `dir` (created; it must not exist) from the
  // template, initdb'ing the template first if the cache has none
  // ($FAULTLINE_PG_CACHE, else $XDG_CACHE_HOME/faultline, else
  // ~/.cache/faultline). Server output goes to `log_path`. Does not start it.
  static base::Result<std::unique_ptr<PgServer>> Create(const std::string& dir,
                                                        const std::string& log_path);
  // Kill().
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // Starts the postmaster and waits until it accepts connections (crash
  // recovery first, after Crash()), at most `timeout_ms`. Error with the
  // server log's last line if it exited or did not get ready in time.
  base::Status Start(int64_t timeout_ms);
  // The server crashes: the postmaster and every backend are SIGKILLed
  // together (shared memory and WAL are left as they were) and reaped.
  void Kill();
  // A clean shutdown (fast: clients are disconnected, a checkpoint is
  // written; `immediate`: no checkpoint, for a server whose data is thrown
  // away), waited for at most `timeout_ms`, then Kill().
  base::Status Stop(int64_t timeout_ms, bool immediate = false);

  bool running() const { return pid_ > 0; }
  // The directory of the server's Unix socket (what PGHOST names).
  const std::string& socket_dir() const { return socket_dir_; }
  // The socket's path (socket_dir()/.s.PGSQL.5432).
  std::string socket_path() const;
  // Microseconds the last Start took until ready; of Create, the copy of the
  // template (and initdb when the cache had none).
  int64_t start_us() const { return start_us_; }
  int64_t create_us() const { return create_us_; }
  bool made_template() const { return made_template_; }

 private:
  PgServer() = default;

  std::string bin_;
  std::string data_dir_;
  std::string socket_dir_;
  std::string log_path_;
  uid_t uid_ = 0;  // the server's user
  gid_t gid_ = 0;
  pid_t pid_ = -1;  // the postmaster, leader of its own process group
  int64_t start_us_ = 0;
  int64_t create_us_ = 0;
  bool made_template_ = false;
};

}  // namespace faultline
