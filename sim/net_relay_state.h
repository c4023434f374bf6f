// The inside of the network relay (sim/net_relay.h), shared by its two
// files: net_relay.cc (the thread, forwarding, links, settling) and
// net_relay_limit.cc (the connection limit). Not for other users.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sim/net_relay.h"

namespace faultline {
namespace net_relay_detail {

constexpr size_t kChunk = 64 * 1024;

struct Chunk {
  std::string data;
  size_t off = 0;
  int64_t arrived = 0;  // monotonic µs
  int64_t release = 0;  // monotonic µs: not delivered before
};

struct Endpoint {
  std::string proc;
  int lfd = -1;
  int port = 0;
  NetRelay::Mode mode = NetRelay::Mode::kUp;
  int64_t blackhole_since = 0;
  int64_t up_us = 0, down_us = 0, jitter_us = 0;
  uint64_t rng = 0;
  int64_t last_release_up = 0, last_release_down = 0;
  uint64_t round_trips = 0;
  uint64_t opened = 0;
  bool last_was_up = false;
  int reset_requests = 0;  // ResetConnections calls not yet carried out
  bool dead = false;       // Settle: its process is gone
  bool limited = false;    // its connections count toward the connection limit
  uint64_t limit_refusals = 0;
};

// A connection accepted while a connection limit was on.
enum class Gate {
  kOpen,     // forwarded (admitted, or never gated)
  kWaiting,  // its start-up packet is read into `startup`; nothing forwarded yet
  kFull,     // turned away: the relay answered for the server
};

struct Conn {
  Endpoint* ep = nullptr;
  int cfd = -1;  // the client's side (an agent)
  int sfd = -1;  // toward the server
  std::deque<Chunk> up, down;
  bool client_eof = false;   // nothing more comes from the client
  bool client_shut = false;  // the client was told end of file
  bool server_shut = false;  // the server was told end of file (SHUT_WR)
  bool server_eof = false;
  // Refused (the link resets, or the server is down): reset once the client
  // has sent its first bytes (its start-up packet), not at the accept. A
  // reset at the accept races the client's first send: it would fail there
  // ("Connection reset by peer") or at its first read ("server closed the
  // connection"), depending on timing. After the client's send it is always
  // the read, the same in every run.
  bool refused = false;
  int64_t accepted = 0;  // monotonic µs
  Gate gate = Gate::kOpen;
  std::string startup;  // kWaiting: what the client sent so far
  int64_t spoke = 0;    // kWaiting: when its first bytes came (monotonic µs)
  bool counted = true;  // a session (not a cancel request): counts toward the limit
};

inline uint64_t SplitMix(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Closes with a TCP reset (the peer reads ECONNRESET, not end of file).
inline void CloseWithReset(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

}  // namespace net_relay_detail

struct NetRelay::State {
  using Chunk = net_relay_detail::Chunk;
  using Conn = net_relay_detail::Conn;
  using Endpoint = net_relay_detail::Endpoint;

  std::string target;
  int64_t hang_us = 0;
  int wake_fd = -1;
  std::thread thread;
  mutable std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  uint64_t requested = 0, processed = 0;  // commands carried out by the thread
  uint64_t settle_requested = 0, settled = 0;
  uint64_t settle_looked = 0;  // the settle request the thread has polled for once
  std::list<Endpoint> endpoints;
  std::list<Conn> conns;
  bool reset_all = false;
  int limit_max = -1;  // LimitConnections; < 0: none
  // Connections reset by the engine's commands (ResetConnections, ResetAll),
  // zeroed by the engine before it asks: what its call did.
  int command_resets = 0;
  Stats stats;

  Endpoint* Find(const std::string& proc) {
    for (Endpoint& e : endpoints) {
      if (e.proc == proc) return &e;
    }
    return nullptr;
  }
  // Under mu: asks the thread to carry out what was changed and waits.
  void Kick(std::unique_lock<std::mutex>& lock) {
    const uint64_t mine = ++requested;
    const uint64_t one = 1;
    (void)!write(wake_fd, &one, sizeof one);
    cv.wait(lock, [&] { return processed >= mine || stop; });
  }
  void Loop();
  void Reset(Conn& c);
  // One pass over every socket; true if a client did something.
  bool Io(const std::vector<pollfd>& fds, int64_t now);
  void Deliver(Conn& c, int64_t now);
  // Connects `c` to the server (c.sfd); false if there is none to reach.
  bool ConnectServer(Conn& c);
  // One read from the client of `c`; true if there was something to read.
  bool ReadClient(Conn& c, char* buf, int64_t now);
  // kWaiting, link up: admits `c` or turns it away once its start-up packet is in.
  void Decide(Conn& c, int64_t now);
  // Admitted sessions of limited processes whose client has not closed.
  int LimitedOpen() const;
  void Push(Conn& c, bool up, std::string data, int64_t now);
};

}  // namespace faultline
