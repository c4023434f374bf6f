// The network between a run's processes and its database server
// (docs/postgres.md): one loopback TCP port per process ("a0", "reaper",
// "tool", ...), each connection forwarded to the server's Unix socket by one
// thread of the harness. Network faults switch a process's link: up,
// blackhole (nothing passes, held as a partitioned network holds it), reset
// (every connection reset, new ones refused), latency (freerun: each chunk
// delayed per direction, order kept).
//
// Lockstep determinism: one process runs at a time, so forwarding in real
// time changes no order; what is left is when the server notices a
// connection has ended (and releases its locks). Settle() makes that a
// decision of the engine: it returns once every connection whose client is
// gone, or that was reset, has been closed by the server too (its backend
// has ended). A blackholed connection whose client waits on it longer than
// hang_ms of wall time is reset (the client's TCP timeout): in lockstep only
// the running process can wait, so that outcome is the same in every run. A
// connection the relay refuses (the link resets, the server is down) is
// reset once its client has sent its first bytes, not at the accept: the
// client then always fails at its first read, never at that send (which of
// the two would depend on timing, and the client's error reaches the trace).
//
// A connection limit (LimitConnections) stands for a full pool or a server
// at max_connections: while it is on, a new connection of a limited process
// is held until its start-up packet has arrived, then admitted (forwarded to
// the server, which sees the packet as usual) if fewer than `max` admitted
// connections of limited processes are open, or answered by the relay as
// PostgreSQL answers when it is full: an ErrorResponse (FATAL, SQLSTATE
// 53300, "sorry, too many clients already") in place of the authentication
// request, then end of file. libpq reports it exactly as from the server.
// The decision is made when the start-up packet is read, after every end of
// file the relay can see: a client that closed its old connection before it
// opened the new one (as libpq does on reconnect) has freed its place, so in
// lockstep the count depends only on which processes hold connections.
//
// Threads: the public methods are called from one thread (the engine's); the
// relay runs its own. Nothing else is shared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace faultline {

class NetRelay {
 public:
  enum class Mode { kUp, kBlackhole, kReset };

  struct Stats {
    uint64_t connections = 0;  // accepted
    uint64_t resets = 0;       // connections the relay reset
    uint64_t bytes_up = 0;     // client to server, forwarded
    uint64_t bytes_down = 0;
    uint64_t limit_refusals = 0;  // connections the connection limit turned away
  };

  // Starts the relay's thread, forwarding to the Unix socket `target` (""
  // until SetTarget: every connection is refused). A thread cannot be
  // created inside a run's PID namespace (sim/run_containment.h): start the
  // relay before the containment.
  static base::Result<std::unique_ptr<NetRelay>> Start(std::string target, int64_t hang_ms);
  void SetTarget(const std::string& target);
  // Stops the thread and closes every socket.
  ~NetRelay();
  NetRelay(const NetRelay&) = delete;
  NetRelay& operator=(const NetRelay&) = delete;

  // A listening port on 127.0.0.1 for `proc` (kernel-chosen); the same port
  // if it has one.
  base::Result<int> AddEndpoint(const std::string& proc);
  // `proc`'s link from now on. kReset resets its connections now and every
  // new one while it lasts. Unknown procs are ignored. Done when it returns.
  void SetMode(const std::string& proc, Mode mode);
  // Resets `proc`'s open connections now (the mode stays); how many.
  int ResetConnections(const std::string& proc);
  // Every connection of every process reset (the server went away).
  int ResetAll();
  // From now on at most `max` connections of the processes in `procs` are
  // open at once; a new one beyond that is refused with SQLSTATE 53300 (see
  // above). Only connections of `procs` count; other processes pass freely.
  // Connections open before stay open even beyond `max` (evicting them is
  // ResetConnections). max < 0: no limit (what was held is admitted).
  void LimitConnections(const std::vector<std::string>& procs, int max);
  // Connections of `proc` the limit has refused so far.
  uint64_t LimitRefusals(const std::string& proc) const;
  // Freerun: each chunk `proc` sends waits up_us (+ a uniform draw of
  // jitter_us from a stream seeded with `seed`), each it receives down_us
  // (+ jitter); order kept per direction. Zeros: none.
  void SetLatency(const std::string& proc, int64_t up_us, int64_t down_us, int64_t jitter_us,
                  uint64_t seed);
  // Round trips of `proc` so far: how often it sent after having received
  // (or for the first time). Independent of how the bytes were chunked.
  uint64_t RoundTrips(const std::string& proc) const;
  // Open connections of `proc` (client side not closed).
  int Connections(const std::string& proc) const;
  // Connections `proc` has opened so far (also those refused or reset).
  uint64_t ConnectionsOpened(const std::string& proc) const;
  // Lockstep, between two decisions: every connection of a process in
  // `dead`, and every one whose client has closed, is forwarded to its end
  // and closed toward the server; returns once the server has closed each
  // (or `timeout_ms` passed: false).
  bool Settle(const std::vector<std::string>& dead, int64_t timeout_ms);
  Stats stats() const;

 private:
  struct State;
  explicit NetRelay(std::unique_ptr<State> state);
  std::unique_ptr<State> st_;
};

std::string_view Name(NetRelay::Mode mode);

}  // namespace faultline
