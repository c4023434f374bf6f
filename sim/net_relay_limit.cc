// The connection limit of the network relay (sim/net_relay.h): which new
// connection of a limited process is admitted, and the answer of a full
// server for the others.
#include <errno.h>
#include <sys/un.h>

#include <algorithm>
#include <cstdio>

#include "sim/net_relay_state.h"
#include "sim/pg_wire.h"

namespace faultline {

using net_relay_detail::Conn;
using net_relay_detail::Endpoint;
using net_relay_detail::Gate;
using net_relay_detail::kChunk;
using net_relay_detail::SetNonBlocking;

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

}  // namespace faultline
