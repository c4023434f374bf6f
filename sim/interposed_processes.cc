#include "sim/interposed_processes.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "sim/proc_status.h"
#include "sim/protocol/interpose_protocol.h"

namespace faultline {

using base::Result;
using base::Status;
using State = InterposedProcess::State;

namespace {

using Clock = std::chrono::steady_clock;

Status Error(const std::string& what) { return Status::IOError("interposition: " + what); }

int MsLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

}  // namespace

const char* ToString(State state) {
  switch (state) {
    case State::kStarting:
      return "starting";
    case State::kParked:
      return "parked";
    case State::kBlocked:
      return "blocked";
    case State::kSleeping:
      return "sleeping";
    case State::kRunning:
      return "running";
    case State::kExited:
      return "exited";
  }
  return "?";
}

InterposedProcesses::InterposedProcesses(Options options)
    : options_(std::move(options)), now_us_(options_.start_us) {}

Result<std::unique_ptr<InterposedProcesses>> InterposedProcesses::Listen(Options options) {
  if (options.library.empty() || options.coordination_dir.empty()) {
    return Status::InvalidArgument("interposition needs the library and the coordination dir");
  }
  std::unique_ptr<InterposedProcesses> self(new InterposedProcesses(std::move(options)));
  char ns[64];
  const ssize_t ns_len = readlink("/proc/self/ns/pid_for_children", ns, sizeof ns);
  if (ns_len > 0) self->namespace_.assign(ns, static_cast<size_t>(ns_len));
  if (self->options_.socket_path.empty()) {
    const char* tmp = getenv("TMPDIR");
    std::string templ =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/faultline-interpose-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) return Status::FromErrno(errno, "mkdtemp " + templ);
    self->private_dir_ = templ;
    self->options_.socket_path = templ + "/ctl.sock";
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (self->options_.socket_path.size() >= sizeof addr.sun_path) {
    return Status::InvalidArgument("socket path too long: " + self->options_.socket_path);
  }
  std::strcpy(addr.sun_path, self->options_.socket_path.c_str());
  self->listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (self->listen_fd_ < 0) return Status::FromErrno(errno, "socket");
  if (bind(self->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(self->listen_fd_, 128) != 0) {
    return Status::FromErrno(errno, "listening on " + self->options_.socket_path);
  }
  return self;
}

InterposedProcesses::~InterposedProcesses() {
  for (auto& [pid, p] : live_) {
    if (Host(p) > 0) kill(Host(p), SIGKILL);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (auto& p : procs_) {
    if (p->pub.state == State::kExited) continue;
    const pid_t host = p->pub.host_pid;
    if (host <= 0) continue;  // never found: gone before we looked
    while (!proc::Exited(host) && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (proc::Parent(host) == getpid()) waitpid(host, nullptr, 0);
    if (p->conn.fd >= 0) close(p->conn.fd);
  }
  for (auto& c : unidentified_) close(c.fd);
  for (auto& [pid, h] : early_hellos_) close(h.conn.fd);
  if (listen_fd_ >= 0) close(listen_fd_);
  unlink(options_.socket_path.c_str());
  if (!private_dir_.empty()) rmdir(private_dir_.c_str());
}

std::vector<std::pair<std::string, std::string>> InterposedProcesses::Environment() const {
  return {{"LD_PRELOAD", options_.library},
          {FL_IP_SOCKET_ENV, options_.socket_path},
          {FL_IP_DIR_ENV, options_.coordination_dir},
          {FL_IP_EPOCH_ENV, std::to_string(options_.epoch_us)}};
}

// ------------------------------------------------------------------------
// The table.

InterposedProcesses::Proc* InterposedProcesses::Live(pid_t pid) {
  auto it = live_.find(pid);
  return it == live_.end() ? nullptr : it->second;
}

bool InterposedProcesses::InControlledNamespace(pid_t host) const {
  return namespace_.empty() || proc::PidNamespace(host) == namespace_;
}

pid_t InterposedProcesses::Host(Proc* p) {
  if (p->pub.host_pid > 0 || p->pub.state == State::kExited) return p->pub.host_pid;
  // Among its parent's children first; an orphan (its parent exited
  // meanwhile) has moved to a subreaper or the namespace's init, which are
  // descendants of this process.
  Proc* parent = Named(p->pub.parent);
  for (pid_t root : {parent != nullptr ? parent->pub.host_pid : 0, getpid()}) {
    if (root <= 0) continue;
    std::vector<pid_t> todo = {root};
    // A breadth-first walk, bounded: the run's processes, not the machine's.
    constexpr size_t kMaxVisited = 4096;
    for (size_t at = 0; at < todo.size() && at < kMaxVisited; ++at) {
      for (pid_t kid : proc::Children(todo[at])) {
        if (proc::InnerPid(kid) == p->pub.pid && InControlledNamespace(kid)) {
          p->pub.host_pid = kid;
          return kid;
        }
        todo.push_back(kid);
      }
    }
  }
  return 0;
}

InterposedProcesses::Proc* InterposedProcesses::Named(const std::string& name) {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const InterposedProcess* InterposedProcesses::Find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &it->second->pub;
}

std::vector<const InterposedProcess*> InterposedProcesses::Processes() const {
  std::vector<const InterposedProcess*> out;
  for (const auto& p : procs_) out.push_back(&p->pub);
  return out;
}

InterposedProcesses::Proc* InterposedProcesses::AddChild(Proc* parent, pid_t pid) {
  auto p = std::make_unique<Proc>();
  p->pub.name = parent == nullptr ? std::to_string(++roots_)
                                  : parent->pub.name + "." + std::to_string(++parent->children);
  p->pub.parent = parent == nullptr ? "" : parent->pub.name;
  p->pub.pid = pid;
  p->root = parent == nullptr;
  Proc* raw = p.get();
  procs_.push_back(std::move(p));
  by_name_[raw->pub.name] = raw;
  live_[pid] = raw;
  pid_names_[pid] = raw->pub.name;
  return raw;
}

std::string InterposedProcesses::WithoutPids(const std::string& text) const {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (!isdigit(static_cast<unsigned char>(text[i]))) {
      out += text[i++];
      continue;
    }
    size_t j = i;
    while (j < text.size() && isdigit(static_cast<unsigned char>(text[j]))) ++j;
    const std::string digits = text.substr(i, j - i);
    auto it = digits[0] == '0' || digits.size() > 9 ? pid_names_.end()
                                                    : pid_names_.find(std::stoi(digits));
    out += it == pid_names_.end() ? digits : "{pid:" + it->second + "}";
    i = j;
  }
  return out;
}

std::vector<std::string> InterposedProcesses::Runnable() const {
  std::vector<std::string> out;
  for (const auto& p : procs_) {
    const auto& s = p->pub;
    const bool due = s.wake_us >= 0 && s.wake_us <= now_us_;
    // A wait can only end when a child exits; anything else might be what
    // another blocked call waits for (a pipe written, a lock released).
    const bool happened = s.point == FL_IP_BLOCK_WAIT ? p->child_exits > p->child_exits_at_block
                                                      : events_ > p->blocked_at;
    if (s.state == State::kParked || (s.state == State::kSleeping && (due || p->signalled)) ||
        (s.state == State::kBlocked && (happened || due || p->signalled))) {
      out.push_back(s.name);
    }
  }
  return out;
}

int64_t InterposedProcesses::NextWakeUs() const {
  int64_t earliest = -1;
  for (const auto& p : procs_) {
    const auto& s = p->pub;
    if ((s.state == State::kSleeping || s.state == State::kBlocked) && s.wake_us >= 0 &&
        (earliest < 0 || s.wake_us < earliest)) {
      earliest = s.wake_us;
    }
  }
  return earliest;
}

bool InterposedProcesses::AdvanceClock() {
  const int64_t earliest = NextWakeUs();
  if (earliest < 0) return false;
  now_us_ = std::max(now_us_, earliest);
  return true;
}

bool InterposedProcesses::Done() const {
  return !procs_.empty() && std::all_of(procs_.begin(), procs_.end(), [](const auto& p) {
    return p->pub.state == State::kExited;
  });
}

std::string InterposedProcesses::Describe(const std::string& name) const {
  const InterposedProcess* p = Find(name);
  if (p == nullptr) return name + " unknown";
  std::string out = name + " ";
  switch (p->state) {
    case State::kParked:
      out += p->point;
      if (!p->item.empty()) out += " " + p->item;
      if (!p->to.empty()) out += " -> " + p->to;
      return out;
    case State::kBlocked:
      return out + "blocked " + p->point + (p->item.empty() ? "" : " " + p->item);
    case State::kSleeping:
      return out + "sleeping until " + std::to_string(p->wake_us);
    default:
      return out + ToString(p->state);
  }
}

// ------------------------------------------------------------------------
// Stepping.

bool InterposedProcesses::Go(Proc* p) {
  const std::string msg =
      "{\"" FL_IP_GO "\":true,\"" FL_IP_NOW "\":" + std::to_string(now_us_) + "}\n";
  return send(p->conn.fd, msg.data(), msg.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(msg.size());
}

Result<std::string> InterposedProcesses::Adopt(pid_t pid) {
  if (Live(pid) != nullptr) return Status::InvalidArgument("pid already adopted");
  Proc* p = AddChild(nullptr, pid);
  BASE_RETURN_IF_ERROR(Settle(nullptr));
  return p->pub.name;
}

Status InterposedProcesses::Step(const std::string& name) {
  Proc* p = Named(name);
  const auto runnable = Runnable();
  if (p == nullptr || std::find(runnable.begin(), runnable.end(), name) == runnable.end()) {
    return Status::InvalidArgument("interposition: " + name + " is not runnable");
  }
  const InterposedProcess before = p->pub;
  now_us_ += options_.step_us;
  p->pub.state = State::kRunning;
  p->pub.steps++;
  p->signalled = false;
  if (!Go(p)) {
    BASE_RETURN_IF_ERROR(ConnClosed(p));
  }
  BASE_RETURN_IF_ERROR(Settle(p));
  // A blocked process that only found itself blocked again changed nothing
  // others could be waiting for; anything else might have.
  const bool same_block = before.state == State::kBlocked && p->pub.state == State::kBlocked &&
                          before.point == p->pub.point && before.item == p->pub.item;
  if (!same_block && p->pub.state != State::kExited) ++events_;  // exits count in MarkExited
  if (p->pub.state == State::kBlocked) {
    p->blocked_at = events_;
    p->child_exits_at_block = p->child_exits;
  }
  return Status::Ok();
}

Status InterposedProcesses::Kill(const std::string& name) {
  Proc* p = Named(name);
  if (p == nullptr || p->pub.state == State::kExited) {
    return Status::InvalidArgument("interposition: no live process " + name);
  }
  if (p->pub.state == State::kRunning) return Error("cannot kill " + name + " while it runs");
  if (Host(p) > 0) kill(Host(p), SIGKILL);
  return AwaitExit(p);
}

Status InterposedProcesses::Settle(Proc* stepping) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.step_timeout_ms);
  for (;;) {
    std::string waiting_for;
    if (Settled(stepping, &waiting_for)) {
      if (!waiting_for.empty()) return Error(waiting_for);  // an escape
      return Status::Ok();
    }
    const int left = MsLeft(deadline);
    if (left == 0) {
      return Error("no answer within " + std::to_string(options_.step_timeout_ms) +
                   " ms (an uncontrolled block?): waiting for " + waiting_for);
    }
    BASE_RETURN_IF_ERROR(Pump(std::min(left, 2)));
  }
}

// True when the step is over; `waiting_for` says what is missing (or, when
// true is returned with it set, which escape ended the run).
bool InterposedProcesses::Settled(Proc* stepping, std::string* waiting_for) {
  if (stepping != nullptr && stepping->pub.state == State::kRunning) {
    if (stepping->exec_closed && proc::Exited(Host(stepping))) {
      MarkExited(stepping);  // the exec failed, or the new image died before its hello
    } else {
      *waiting_for = "the step of " + stepping->pub.name + ": " + proc::Describe(Host(stepping));
      return false;
    }
  }
  for (const auto& p : procs_) {
    if (p->pub.state == State::kStarting) {
      const pid_t host = Host(p.get());
      if (host <= 0 || proc::Exited(host)) {
        *waiting_for = "process " + p->pub.name + " (pid " + std::to_string(p->pub.pid) +
                       ") exited without connecting: is it a static binary, or was LD_PRELOAD "
                       "dropped?";
        return true;
      }
      *waiting_for = "the start of " + p->pub.name + ": " + proc::Describe(host);
      return false;
    }
  }
  if (!unidentified_.empty()) {
    *waiting_for = "the hello of a new connection";
    return false;
  }
  for (const auto& [pid, hello] : early_hellos_) {
    if (proc::Parent(hello.conn.peer) != getpid() && Live(hello.ppid) == nullptr) {
      *waiting_for = "pid " + std::to_string(pid) + " (" + hello.argv0 +
                     ") connected, but its parent " + std::to_string(hello.ppid) +
                     " is not controlled";
      return true;
    }
  }
  if (stepping != nullptr && stepping->pub.state != State::kExited) {
    Status s = CheckChildren(stepping, waiting_for);
    if (!s.ok()) {
      *waiting_for = s.message();
      return true;
    }
    if (!waiting_for->empty()) return false;
  }
  return true;
}

// A child the stepped process made without announcing it (system(), popen()
// and other libc-internal spawns): taken in once it has connected; one that
// ran to its end without connecting escaped control.
Status InterposedProcesses::CheckChildren(Proc* p, std::string* waiting_for) {
  std::vector<std::pair<pid_t, pid_t>> unknown;  // (as they see it, ours)
  for (pid_t host : proc::Children(Host(p))) {
    const pid_t kid = proc::InnerPid(host);
    if (kid <= 0) continue;  // reaped meanwhile
    if (pid_names_.count(kid) == 0) unknown.emplace_back(kid, host);
  }
  std::sort(unknown.begin(), unknown.end());
  for (const auto& [kid, host] : unknown) {
    auto it = early_hellos_.find(kid);
    if (it != early_hellos_.end()) {
      Hello hello = std::move(it->second);
      early_hellos_.erase(it);
      BASE_RETURN_IF_ERROR(Attach(AddChild(p, kid), std::move(hello.conn), hello.argv0));
      continue;
    }
    if (proc::Exited(host)) {
      return Error("process " + std::to_string(kid) + " (" + proc::Command(host) +
                   "), a child of " + p->pub.name +
                   ", ran without connecting (a static binary, or LD_PRELOAD dropped)");
    }
    *waiting_for = "the hello of " + proc::Describe(host) + ", a child of " + p->pub.name;
  }
  return Status::Ok();
}

// A signal a running process sent: its targets are parked with every signal
// blocked, so they take it when they next run; a sleeping or blocked one is
// made runnable for that. SIGKILL acts at once: the target is seen dead
// before the step ends, as its parent's next wait will see it.
Status InterposedProcesses::Signalled(Proc* sender, pid_t target, int sig) {
  std::vector<Proc*> targets;
  // Pids and groups as the processes see them: the target is theirs.
  const pid_t group = target == 0 ? proc::InnerGroup(Host(sender)) : -target;
  for (auto& [pid, p] : live_) {
    if (p == sender) continue;
    if (target > 0 ? pid == target : proc::InnerGroup(Host(p)) == group) targets.push_back(p);
  }
  for (Proc* p : targets) {
    if (sig == SIGKILL) {
      BASE_RETURN_IF_ERROR(AwaitExit(p));
    } else {
      p->signalled = true;
    }
  }
  // The sender waits for this answer, so that it cannot look for the
  // target's death before the kernel has made it a zombie.
  if (!Go(sender)) return ConnClosed(sender);
  return Status::Ok();
}

Status InterposedProcesses::ConnClosed(Proc* p) {
  if (p->exec_pending) {
    close(p->conn.fd);
    p->conn = Conn{};
    p->exec_closed = true;  // Settled watches for the new image's hello
    return Status::Ok();
  }
  return AwaitExit(p);
}

// The connection closes as the kernel tears the process down, a moment
// before it becomes a zombie; until then its parent's WNOHANG wait would
// miss it. Nobody runs before it is one.
Status InterposedProcesses::AwaitExit(Proc* p) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.step_timeout_ms);
  while (!proc::Exited(Host(p))) {
    if (Clock::now() >= deadline) {
      return Error(p->pub.name +
                   " closed its connection but does not exit: " + proc::Describe(Host(p)));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  MarkExited(p);
  return Status::Ok();
}

void InterposedProcesses::MarkExited(Proc* p) {
  if (p->conn.fd >= 0) close(p->conn.fd);
  p->conn = Conn{};
  p->pub.state = State::kExited;
  p->pub.wake_us = -1;
  live_.erase(p->pub.pid);
  if (Proc* parent = Named(p->pub.parent); parent != nullptr) parent->child_exits++;
  const pid_t host = p->pub.host_pid;
  if (host > 0 && proc::Parent(host) == getpid()) {
    int status = 0;
    if (waitpid(host, &status, WNOHANG) == host) p->pub.wait_status = status;
  }
  ++events_;
}

}  // namespace faultline
