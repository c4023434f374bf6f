#include "sim/net_relay.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fmt/format.h>
#include <list>
#include <mutex>
#include <thread>

#include "base/monotonic_clock.h"
#include "sim/pg_wire.h"

namespace faultline {

std::string_view Name(NetRelay::Mode mode) {
  switch (mode) {
    case NetRelay::Mode::kUp: return "up";
    case NetRelay::Mode::kBlackhole: return "blackhole";
    case NetRelay::Mode::kReset: return "reset";
  }
  return "?";
}

namespace {

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
  std::string startup;     // kWaiting: what the client sent so far
  int64_t spoke = 0;       // kWaiting: when its first bytes came (monotonic µs)
  bool counted = true;     // a session (not a cancel request): counts toward the limit
};

uint64_t SplitMix(uint64_t* s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Closes with a TCP reset (the peer reads ECONNRESET, not end of file).
void CloseWithReset(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(fd);
}

}  // namespace

struct NetRelay::State {
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

void NetRelay::State::Reset(Conn& c) {
  if (c.cfd >= 0) CloseWithReset(c.cfd);
  c.cfd = -1;
  c.client_eof = c.client_shut = true;
  c.up.clear();
  c.down.clear();
  if (c.sfd >= 0 && !c.server_shut) shutdown(c.sfd, SHUT_WR);
  c.server_shut = true;
  ++stats.resets;
}

void NetRelay::State::Push(Conn& c, bool up, std::string data, int64_t now) {
  Endpoint& e = *c.ep;
  int64_t delay = up ? e.up_us : e.down_us;
  if (e.jitter_us > 0) delay += static_cast<int64_t>(SplitMix(&e.rng) % (e.jitter_us + 1));
  int64_t& last = up ? e.last_release_up : e.last_release_down;
  last = std::max(last, now + delay);
  if (up) {
    if (!e.last_was_up) ++e.round_trips;
    e.last_was_up = true;
    stats.bytes_up += data.size();
  } else {
    e.last_was_up = false;
    stats.bytes_down += data.size();
  }
  (up ? c.up : c.down).push_back(Chunk{std::move(data), 0, now, last});
}

void NetRelay::State::Deliver(Conn& c, int64_t now) {
  if (c.ep->mode != Mode::kUp) return;
  auto send_all = [&](std::deque<Chunk>& q, int fd) {
    while (fd >= 0 && !q.empty() && q.front().release <= now) {
      Chunk& ch = q.front();
      const ssize_t n = send(fd, ch.data.data() + ch.off, ch.data.size() - ch.off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        q.clear();  // the peer is gone; its end of file or reset follows
        return;
      }
      ch.off += static_cast<size_t>(n);
      if (ch.off < ch.data.size()) return;
      q.pop_front();
    }
  };
  send_all(c.up, c.sfd);
  send_all(c.down, c.cfd);
  // Ends travel after the data, like a FIN.
  if (c.client_eof && c.up.empty() && !c.server_shut && c.sfd >= 0) {
    shutdown(c.sfd, SHUT_WR);
    c.server_shut = true;
  }
  if (c.server_eof && c.down.empty() && !c.client_shut && c.cfd >= 0) {
    shutdown(c.cfd, SHUT_WR);
    c.client_shut = true;
  }
}

bool NetRelay::State::ConnectServer(Conn& c) {
  c.sfd = target.empty() ? -1 : socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", target.c_str());
  if (c.sfd >= 0 && connect(c.sfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(c.sfd);
    c.sfd = -1;
  }
  if (c.sfd >= 0) SetNonBlocking(c.sfd);
  return c.sfd >= 0;
}

bool NetRelay::State::ReadClient(Conn& c, char* buf, int64_t now) {
  const ssize_t n = recv(c.cfd, buf, kChunk, 0);
  if (n > 0 && c.refused) {
    Reset(c);
  } else if (n > 0 && c.gate == Gate::kWaiting) {
    if (c.startup.empty()) c.spoke = now;
    c.startup.append(buf, static_cast<size_t>(n));
  } else if (n > 0 && c.gate == Gate::kFull) {
    // Said after the server's (the relay's) last word: nobody reads it.
  } else if (n > 0) {
    Push(c, true, std::string(buf, static_cast<size_t>(n)), now);
  } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
    c.client_eof = true;
    if (c.refused) Reset(c);
  } else {
    return false;
  }
  return true;
}

int NetRelay::State::LimitedOpen() const {
  int n = 0;
  for (const Conn& c : conns) {
    n += c.ep->limited && c.gate == Gate::kOpen && c.counted && !c.refused && !c.client_eof;
  }
  return n;
}

void NetRelay::State::Decide(Conn& c, int64_t now) {
  pg_wire::FirstMessage first = pg_wire::ParseFirst(c.startup);
  // No encryption here (the server has none either): 'N', and the client
  // sends its start-up packet in the clear.
  while (first.kind == pg_wire::FirstMessage::Kind::kEncryption) {
    Push(c, false, "N", now);
    c.startup.erase(0, first.length);
    first = pg_wire::ParseFirst(c.startup);
  }
  if (first.kind == pg_wire::FirstMessage::Kind::kIncomplete) return;
  c.counted = first.kind == pg_wire::FirstMessage::Kind::kStartup;
  if (c.counted && limit_max >= 0) {
    // Every end of file already sent is counted first: a client that closed
    // its old connection before it opened this one has given its place back.
    char buf[kChunk];
    for (Conn& other : conns) {
      while (&other != &c && other.cfd >= 0 && !other.client_eof && other.ep->limited &&
             ReadClient(other, buf, now)) {
      }
    }
    if (LimitedOpen() >= limit_max) {
      ++c.ep->limit_refusals;
      ++stats.limit_refusals;
      c.gate = Gate::kFull;
      c.startup.clear();
      Push(c, false, pg_wire::TooManyClients(), now);
      c.server_eof = c.server_shut = true;  // then end of file, as the server closes
      return;
    }
  }
  // Admitted (or a cancel request, which holds no session; or something the
  // server itself will reject): the server sees the client's bytes as sent.
  c.gate = Gate::kOpen;
  if (!ConnectServer(c)) {
    c.refused = true;
    c.server_eof = c.server_shut = true;
    Reset(c);
    return;
  }
  std::string bytes = std::move(c.startup);
  c.startup.clear();
  Push(c, true, std::move(bytes), now);
}

bool NetRelay::State::Io(const std::vector<pollfd>& fds, int64_t now) {
  bool client_activity = false;
  char buf[kChunk];
  auto revents = [&](int fd) -> short {
    for (const pollfd& p : fds) {
      if (p.fd == fd) return p.revents;
    }
    return 0;
  };
  for (Endpoint& e : endpoints) {
    if (!(revents(e.lfd) & POLLIN)) continue;
    const int cfd = accept4(e.lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (cfd < 0) continue;
    client_activity = true;
    ++stats.connections;
    ++e.opened;
    e.last_was_up = false;  // a new connection's first request is a round trip
    Conn c;
    c.ep = &e;
    c.cfd = cfd;
    const int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.accepted = now;
    if (e.mode != Mode::kReset && e.limited && limit_max >= 0) {
      // Nothing reaches the server before the limit has admitted it (Decide).
      c.gate = Gate::kWaiting;
      conns.push_back(std::move(c));
      continue;
    }
    if (e.mode != Mode::kReset) ConnectServer(c);
    if (c.sfd < 0) {
      // The link resets, or no server (down or restarting): the connection
      // is refused, once the client has spoken.
      c.refused = true;
      c.server_eof = c.server_shut = true;
      conns.push_back(std::move(c));
      continue;
    }
    conns.push_back(std::move(c));
  }
  for (Conn& c : conns) {
    if (c.cfd >= 0 && !c.client_eof && (revents(c.cfd) & (POLLIN | POLLHUP | POLLERR))) {
      client_activity = true;
      ReadClient(c, buf, now);
    }
    if (c.sfd >= 0 && !c.server_eof && (revents(c.sfd) & (POLLIN | POLLHUP | POLLERR))) {
      const ssize_t n = recv(c.sfd, buf, sizeof buf, 0);
      if (n > 0) {
        // Toward a client that is gone (reset), what the server says is dropped.
        if (c.cfd >= 0) Push(c, false, std::string(buf, static_cast<size_t>(n)), now);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        c.server_eof = true;
      }
    }
  }
  return client_activity;
}

void NetRelay::State::Loop() {
  std::unique_lock<std::mutex> lock(mu);
  while (!stop) {
    const int64_t now = base::MonotonicMicros();
    // Commands of the engine.
    for (Conn& c : conns) {
      if (c.refused) continue;  // reset when its client speaks (Io)
      if (reset_all || c.ep->mode == Mode::kReset || c.ep->reset_requests > 0) {
        if (c.cfd >= 0 || !c.client_eof) {
          Reset(c);
          ++command_resets;
        }
      }
    }
    reset_all = false;
    for (Endpoint& e : endpoints) e.reset_requests = 0;
    // Blackholed: a client that has waited hang_us for its data to pass
    // gives up (its TCP timeout) and the connection is reset.
    int64_t next_wake = -1;
    for (Conn& c : conns) {
      // A refused client that does not speak within the hang time is reset
      // anyway (PostgreSQL's clients speak first; this bounds any other).
      if (c.refused && c.cfd >= 0) {
        if (now - c.accepted >= hang_us) {
          Reset(c);
        } else {
          next_wake =
              next_wake < 0 ? c.accepted + hang_us : std::min(next_wake, c.accepted + hang_us);
        }
      }
      if (c.gate == Gate::kWaiting && c.cfd >= 0 && c.ep->mode == Mode::kUp) Decide(c, now);
      Deliver(c, now);
      const Endpoint& e = *c.ep;
      if (e.mode == Mode::kBlackhole && c.cfd >= 0 && c.gate == Gate::kWaiting &&
          !c.startup.empty()) {
        // Its start-up packet is held like any data in a blackhole.
        const int64_t since = std::max(c.spoke, e.blackhole_since);
        if (now - since >= hang_us) {
          Reset(c);
        } else {
          next_wake = next_wake < 0 ? since + hang_us : std::min(next_wake, since + hang_us);
        }
      }
      if (e.mode == Mode::kBlackhole && c.cfd >= 0 && !c.up.empty()) {
        const int64_t since = std::max(c.up.front().arrived, e.blackhole_since);
        if (now - since >= hang_us) {
          Reset(c);
        } else {
          next_wake = next_wake < 0 ? since + hang_us : std::min(next_wake, since + hang_us);
        }
      }
      for (const std::deque<Chunk>* q : {&c.up, &c.down}) {
        if (e.mode == Mode::kUp && !q->empty() && q->front().release > now) {
          next_wake = next_wake < 0 ? q->front().release : std::min(next_wake, q->front().release);
        }
      }
      // The server closed its side: the connection is over.
      if (c.server_eof && c.sfd >= 0) {
        if (c.cfd < 0 || c.client_shut) {
          close(c.sfd);
          c.sfd = -1;
        }
      }
      if (c.cfd >= 0 && c.client_eof && c.sfd < 0) {
        close(c.cfd);
        c.cfd = -1;
      }
    }
    std::erase_if(conns, [](const Conn& c) { return c.cfd < 0 && c.sfd < 0; });
    processed = requested;
    cv.notify_all();

    std::vector<pollfd> fds;
    fds.push_back({wake_fd, POLLIN, 0});
    for (const Endpoint& e : endpoints) fds.push_back({e.lfd, POLLIN, 0});
    for (const Conn& c : conns) {
      if (c.cfd >= 0) {
        short ev = c.client_eof ? 0 : POLLIN;
        if (c.ep->mode == Mode::kUp && !c.down.empty()) ev |= POLLOUT;
        fds.push_back({c.cfd, ev, 0});
      }
      if (c.sfd >= 0) {
        short ev = c.server_eof ? 0 : POLLIN;
        if (c.ep->mode == Mode::kUp && !c.up.empty()) ev |= POLLOUT;
        fds.push_back({c.sfd, ev, 0});
      }
    }
    const bool settling = settle_requested > settled;
    int timeout_ms = -1;
    if (settling) {
      // A closed client is visible at once: look without waiting first;
      // then wait a little for the server, without spinning.
      timeout_ms = settle_looked == settle_requested ? 1 : 0;
      settle_looked = settle_requested;
    } else if (next_wake >= 0) {
      timeout_ms = static_cast<int>(std::max<int64_t>(0, (next_wake - now + 999) / 1000));
    }
    lock.unlock();
    const int ready = poll(fds.data(), fds.size(), timeout_ms);
    lock.lock();
    if (ready < 0) continue;
    if (fds[0].revents & POLLIN) {
      uint64_t n;
      (void)!read(wake_fd, &n, sizeof n);
    }
    const bool client_activity = Io(fds, base::MonotonicMicros());
    if (settle_requested > settled && !client_activity) {
      // Settled: no client has anything left to say, every connection of a
      // dead process has reached its end, and the server has closed every
      // connection that was closed toward it.
      bool done = true;
      for (const Conn& c : conns) {
        if (c.server_shut && c.sfd >= 0 && !c.server_eof) done = false;
        if (c.ep->dead && !c.client_eof) done = false;
        if (c.client_eof && c.ep->mode == Mode::kUp && c.sfd >= 0 && !c.server_eof) done = false;
      }
      if (done) {
        settled = settle_requested;
        cv.notify_all();
      }
    }
  }
}

NetRelay::NetRelay(std::unique_ptr<State> state) : st_(std::move(state)) {}

base::Result<std::unique_ptr<NetRelay>> NetRelay::Start(std::string target, int64_t hang_ms) {
  if (target.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return base::Status::InvalidArgument("the server's socket path is too long: " + target);
  }
  auto st = std::make_unique<State>();
  st->target = std::move(target);
  st->hang_us = hang_ms * 1000;
  st->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (st->wake_fd < 0) return base::Status::FromErrno(errno, "eventfd for the relay");
  State* raw = st.get();
  st->thread = std::thread([raw] { raw->Loop(); });
  return std::unique_ptr<NetRelay>(new NetRelay(std::move(st)));
}

NetRelay::~NetRelay() {
  {
    std::lock_guard<std::mutex> lock(st_->mu);
    st_->stop = true;
  }
  const uint64_t one = 1;
  (void)!write(st_->wake_fd, &one, sizeof one);
  st_->thread.join();
  for (Conn& c : st_->conns) {
    if (c.cfd >= 0) CloseWithReset(c.cfd);
    if (c.sfd >= 0) close(c.sfd);
  }
  for (Endpoint& e : st_->endpoints) close(e.lfd);
  close(st_->wake_fd);
}

void NetRelay::SetTarget(const std::string& target) {
  std::lock_guard<std::mutex> lock(st_->mu);
  st_->target = target;
}

base::Result<int> NetRelay::AddEndpoint(const std::string& proc) {
  std::unique_lock<std::mutex> lock(st_->mu);
  if (Endpoint* e = st_->Find(proc)) return e->port;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 64) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    if (fd >= 0) close(fd);
    return base::Status::FromErrno(err, "a relay port for " + proc);
  }
  Endpoint e;
  e.proc = proc;
  e.lfd = fd;
  e.port = ntohs(addr.sin_port);
  st_->endpoints.push_back(e);
  st_->Kick(lock);
  return e.port;
}

void NetRelay::SetMode(const std::string& proc, Mode mode) {
  std::unique_lock<std::mutex> lock(st_->mu);
  Endpoint* e = st_->Find(proc);
  if (e == nullptr) return;
  if (mode == Mode::kBlackhole && e->mode != Mode::kBlackhole) {
    e->blackhole_since = base::MonotonicMicros();
  }
  e->mode = mode;
  st_->Kick(lock);
}

int NetRelay::ResetConnections(const std::string& proc) {
  std::unique_lock<std::mutex> lock(st_->mu);
  Endpoint* e = st_->Find(proc);
  if (e == nullptr) return 0;
  ++e->reset_requests;
  st_->command_resets = 0;
  st_->Kick(lock);
  return st_->command_resets;
}

int NetRelay::ResetAll() {
  std::unique_lock<std::mutex> lock(st_->mu);
  st_->reset_all = true;
  st_->command_resets = 0;
  st_->Kick(lock);
  return st_->command_resets;
}

void NetRelay::LimitConnections(const std::vector<std::string>& procs, int max) {
  std::unique_lock<std::mutex> lock(st_->mu);
  for (Endpoint& e : st_->endpoints) {
    e.limited = max >= 0 && std::find(procs.begin(), procs.end(), e.proc) != procs.end();
  }
  st_->limit_max = max;
  st_->Kick(lock);
}

uint64_t NetRelay::LimitRefusals(const std::string& proc) const {
  std::lock_guard<std::mutex> lock(st_->mu);
  for (const Endpoint& e : st_->endpoints) {
    if (e.proc == proc) return e.limit_refusals;
  }
  return 0;
}

void NetRelay::SetLatency(const std::string& proc, int64_t up_us, int64_t down_us,
                          int64_t jitter_us, uint64_t seed) {
  std::unique_lock<std::mutex> lock(st_->mu);
  Endpoint* e = st_->Find(proc);
  if (e == nullptr) return;
  e->up_us = up_us;
  e->down_us = down_us;
  e->jitter_us = jitter_us;
  e->rng = seed;
  st_->Kick(lock);
}

uint64_t NetRelay::RoundTrips(const std::string& proc) const {
  std::lock_guard<std::mutex> lock(st_->mu);
  for (const Endpoint& e : st_->endpoints) {
    if (e.proc == proc) return e.round_trips;
  }
  return 0;
}

uint64_t NetRelay::ConnectionsOpened(const std::string& proc) const {
  std::lock_guard<std::mutex> lock(st_->mu);
  for (const Endpoint& e : st_->endpoints) {
    if (e.proc == proc) return e.opened;
  }
  return 0;
}

int NetRelay::Connections(const std::string& proc) const {
  std::lock_guard<std::mutex> lock(st_->mu);
  int n = 0;
  for (const Conn& c : st_->conns) n += c.ep->proc == proc && !c.client_eof;
  return n;
}

bool NetRelay::Settle(const std::vector<std::string>& dead, int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(st_->mu);
  for (Endpoint& e : st_->endpoints) {
    e.dead = std::find(dead.begin(), dead.end(), e.proc) != dead.end();
  }
  const uint64_t mine = ++st_->settle_requested;
  const uint64_t one = 1;
  (void)!write(st_->wake_fd, &one, sizeof one);
  return st_->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                          [&] { return st_->settled >= mine; });
}

NetRelay::Stats NetRelay::stats() const {
  std::lock_guard<std::mutex> lock(st_->mu);
  return st_->stats;
}

}  // namespace faultline
