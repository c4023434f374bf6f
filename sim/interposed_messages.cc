// InterposedProcesses, the wire: accepting connections, reading messages,
// and what each message does to the table (sim/interposed_processes.h).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "sim/interposed_processes.h"
#include "sim/protocol/interpose_protocol.h"

namespace faultline {

using base::Status;
using State = InterposedProcess::State;

namespace {

Status Error(const std::string& what) { return Status::IOError("interposition: " + what); }

}  // namespace

Status InterposedProcesses::Pump(int timeout_ms) {
  std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
  std::vector<Proc*> running;
  for (const auto& c : unidentified_) fds.push_back({c.fd, POLLIN, 0});
  for (auto& [pid, p] : live_) {
    if (p->pub.state == State::kRunning && p->conn.fd >= 0) {
      fds.push_back({p->conn.fd, POLLIN, 0});
      running.push_back(p);
    }
  }
  int rc = poll(fds.data(), fds.size(), timeout_ms);
  if (rc < 0 && errno != EINTR) return Status::FromErrno(errno, "poll");
  if (rc <= 0) return Status::Ok();
  // Running processes first: a parent's "fork" names a child before its hello.
  const size_t unidentified = unidentified_.size();
  const size_t first_running = 1 + unidentified;
  for (size_t i = 0; i < running.size(); ++i) {
    if (fds[first_running + i].revents == 0) continue;
    Proc* p = running[i];
    bool eof = false;
    BASE_RETURN_IF_ERROR(ReadConn(&p->conn, &eof));
    for (size_t nl; p->conn.fd >= 0 && (nl = p->conn.buffer.find('\n')) != std::string::npos;) {
      std::string line = p->conn.buffer.substr(0, nl);
      p->conn.buffer.erase(0, nl + 1);
      BASE_RETURN_IF_ERROR(HandleMessage(p, line));
    }
    if (eof && p->conn.fd >= 0) BASE_RETURN_IF_ERROR(ConnClosed(p));
  }
  for (size_t i = unidentified; i-- > 0;) {
    if (fds[1 + i].revents == 0) continue;
    bool eof = false;
    BASE_RETURN_IF_ERROR(ReadConn(&unidentified_[i], &eof));
    if (unidentified_[i].buffer.find('\n') != std::string::npos) {
      BASE_RETURN_IF_ERROR(HandleNew(i));
    } else if (eof) {
      close(unidentified_[i].fd);  // died before its hello; its parent's step sees the exit
      unidentified_.erase(unidentified_.begin() + static_cast<ptrdiff_t>(i));
    }
  }
  if (fds[0].revents != 0) BASE_RETURN_IF_ERROR(Accept());
  return Status::Ok();
}

Status InterposedProcesses::Accept() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Ok();
      return Status::FromErrno(errno, "accept");
    }
    // The kernel gives the peer's pid in our namespace, whichever the
    // peer lives in: the pid we kill and look up in /proc.
    ucred cred{};
    socklen_t len = sizeof cred;
    const pid_t peer = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
    unidentified_.push_back(Conn{fd, "", peer});
    pollfd more{listen_fd_, POLLIN, 0};
    if (poll(&more, 1, 0) <= 0) return Status::Ok();
  }
}

Status InterposedProcesses::ReadConn(Conn* conn, bool* eof) {
  char chunk[4096];
  for (;;) {
    ssize_t n = recv(conn->fd, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      conn->buffer.append(chunk, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Status::Ok();
    *eof = true;  // end of file, or ECONNRESET from a killed process
    return Status::Ok();
  }
}

Status InterposedProcesses::HandleNew(size_t index) {
  Conn conn = std::move(unidentified_[index]);
  unidentified_.erase(unidentified_.begin() + static_cast<ptrdiff_t>(index));
  const size_t nl = conn.buffer.find('\n');
  const auto m = nlohmann::json::parse(conn.buffer.substr(0, nl), nullptr, false);
  conn.buffer.erase(0, nl + 1);
  if (!m.is_object() || !m.contains(FL_IP_HELLO) || !m[FL_IP_HELLO].is_object()) {
    close(conn.fd);
    return Error("a new connection did not start with hello");
  }
  const auto& h = m[FL_IP_HELLO];
  const pid_t pid = h.value(FL_IP_PID, 0);
  const pid_t ppid = h.value(FL_IP_PPID, 0);
  const std::string argv0 = h.value(FL_IP_ARGV0, "");
  Proc* p = Live(pid);
  if (p == nullptr) {
    early_hellos_[pid] = Hello{std::move(conn), ppid, argv0};
    return Status::Ok();
  }
  if (p->pub.state == State::kRunning && p->exec_pending && p->conn.fd >= 0) {
    // The new image spoke before the old connection's end was read: what
    // the old image said last still counts, in order.
    bool eof = false;
    while (!eof) {
      pollfd pfd{p->conn.fd, POLLIN, 0};
      if (poll(&pfd, 1, options_.step_timeout_ms) <= 0) return Error("exec of " + p->pub.name);
      BASE_RETURN_IF_ERROR(ReadConn(&p->conn, &eof));
    }
    for (size_t at; (at = p->conn.buffer.find('\n')) != std::string::npos;) {
      std::string line = p->conn.buffer.substr(0, at);
      p->conn.buffer.erase(0, at + 1);
      BASE_RETURN_IF_ERROR(HandleMessage(p, line));
    }
    close(p->conn.fd);
    p->conn = Conn{};
    p->exec_closed = true;
  }
  if (p->pub.state != State::kStarting && !(p->pub.state == State::kRunning && p->exec_closed)) {
    close(conn.fd);
    return Error("a second hello from " + p->pub.name + " (pid " + std::to_string(pid) + ")");
  }
  return Attach(p, std::move(conn), argv0);
}

Status InterposedProcesses::Attach(Proc* p, Conn conn, const std::string& argv0) {
  if (!conn.buffer.empty()) {
    close(conn.fd);
    return Error(p->pub.name + " said more than hello before its go");
  }
  if (p->conn.fd >= 0) close(p->conn.fd);
  if (conn.peer > 0) p->pub.host_pid = conn.peer;
  p->conn = std::move(conn);
  p->pub.argv0 = argv0;
  p->pub.point = p->exec_closed ? "proc.exec" : p->root ? "proc.start" : "proc.fork";
  p->pub.item = WithoutPids(argv0);
  p->pub.to.clear();
  p->pub.wake_us = -1;
  p->pub.state = State::kParked;
  p->exec_pending = p->exec_closed = false;
  return Status::Ok();
}

Status InterposedProcesses::HandleMessage(Proc* p, const std::string& line) {
  const auto m = nlohmann::json::parse(line, nullptr, false);
  if (!m.is_object()) return Error(p->pub.name + " sent something that is not JSON: " + line);
  p->exec_pending = p->exec_pending && m.contains(FL_IP_EXEC);  // any other: the exec failed
  auto text = [&](const char* key) {
    return m.contains(key) && m[key].is_string() ? WithoutPids(m[key].get<std::string>()) : "";
  };
  if (m.contains(FL_IP_YIELD)) {
    p->pub.state = State::kParked;
    p->pub.point = m[FL_IP_YIELD].get<std::string>();
    p->pub.item = text(FL_IP_ITEM);
    p->pub.to = text(FL_IP_TO);
    p->pub.wake_us = -1;
  } else if (m.contains(FL_IP_BLOCKED)) {
    p->pub.state = State::kBlocked;
    p->pub.point = m[FL_IP_BLOCKED].get<std::string>();
    p->pub.item = text(FL_IP_ITEM);
    p->pub.to.clear();
    p->pub.wake_us = m.value(FL_IP_UNTIL, int64_t{-1});
  } else if (m.contains(FL_IP_SLEEP_US)) {
    p->pub.state = State::kSleeping;
    p->pub.point = "sleep";
    p->pub.item.clear();
    p->pub.to.clear();
    p->pub.wake_us = now_us_ + std::max<int64_t>(0, m[FL_IP_SLEEP_US].get<int64_t>());
  } else if (m.contains(FL_IP_FORK)) {
    const pid_t kid = m[FL_IP_FORK].get<pid_t>();
    if (pid_names_.count(kid) != 0) return Status::Ok();  // seen already (unannounced path)
    Proc* child = AddChild(p, kid);
    auto it = early_hellos_.find(kid);
    if (it != early_hellos_.end()) {
      Hello hello = std::move(it->second);
      early_hellos_.erase(it);
      return Attach(child, std::move(hello.conn), hello.argv0);
    }
  } else if (m.contains(FL_IP_EXEC)) {
    p->exec_pending = true;
  } else if (m.contains(FL_IP_SIGNAL)) {
    return Signalled(p, m[FL_IP_SIGNAL].get<pid_t>(), m.value(FL_IP_SIG, 0));
  } else if (m.contains(FL_IP_ESCAPE)) {
    return Error(p->pub.name + " (" + p->pub.argv0 + ") escapes control: " + text(FL_IP_ESCAPE) +
                 " " + text(FL_IP_DETAIL));
  } else {
    return Error(p->pub.name + " sent an unknown message: " + line);
  }
  return Status::Ok();
}

}  // namespace faultline
