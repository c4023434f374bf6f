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
#include "sim/net_relay_state.h"

namespace faultline {

using net_relay_detail::CloseWithReset;
using net_relay_detail::Conn;
using net_relay_detail::Endpoint;
using net_relay_detail::Gate;
using net_relay_detail::SetNonBlocking;
using net_relay_detail::SplitMix;
using net_relay_detail::kChunk;

std::string_view Name(NetRelay::Mode mode) {
  switch (mode) {
    case NetRelay::Mode::kUp: return "up";
    case NetRelay::Mode::kBlackhole: return "blackhole";
    case NetRelay::Mode::kReset: return "reset";
  }
  return "?";
}

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
