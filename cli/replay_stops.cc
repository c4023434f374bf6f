// The replay's stops. What a process holds comes from two places on
// purpose: grants from the history (what the coordinator granted it and it
// has not seen end), locks from the kernel (/proc/PID/fdinfo lists the flock
// and POSIX locks of each descriptor), so a lock the history never mentions,
// such as a leaked one, still shows.
#include "cli/replay_stops.h"

#include <dirent.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli/cli_support.h"
#include "reports/timeline_text.h"
#include "sim/trace_event.h"

namespace faultline::cli {
namespace {

using nlohmann::json;

constexpr size_t kRecentLines = 12;

std::string Seconds(int64_t us) { return fmt::format("{:.3f} s", static_cast<double>(us) / 1e6); }

json ParkedJson(const StopProcess& p) {
  if (!p.alive) return nullptr;
  if (!p.command.empty()) {
    // A process inside an agent's command: where the interposition layer holds it.
    json parked = {{"kind", p.parked.kind == Parked::Kind::kYield ? "yield" : p.state},
                   {"at", p.at}};
    if (p.parked.kind == Parked::Kind::kYield) {
      parked["point"] = p.parked.point;
      parked["item"] = p.parked.item;
    }
    if (p.wakes_at_us >= 0) parked["wakes_at_us"] = p.wakes_at_us;
    return parked;
  }
  switch (p.parked.kind) {
    case Parked::Kind::kHello:
      return {{"kind", "hello"}};
    case Parked::Kind::kYield:
      return {{"kind", "yield"}, {"point", p.parked.point}, {"item", p.parked.item}};
    case Parked::Kind::kSleep:
      return {{"kind", "sleep"}, {"sleep_us", p.parked.sleep_us}, {"wakes_at_us", p.wakes_at_us}};
    case Parked::Kind::kCommand:
      return {{"kind", "command"}, {"pid", p.parked.pid}};
    case Parked::Kind::kNone:
      break;
  }
  return {{"kind", "none"}};
}

// Where a process waits: "parked at yield point claim.locked (w000017)";
// with `from`, where it was let go from: "from yield point ...". A process
// inside a command: "parked at sys.rename items/.w3.tmp -> items/w3".
std::string ParkedText(const json& parked, bool from = false) {
  if (parked.is_null()) return "not running";
  const std::string kind = parked.value("kind", "");
  const std::string at = from ? "from" : "parked at";
  if (parked.contains("at")) {
    const std::string where = parked.value("at", "");
    if (kind == "yield") return at + " " + where;
    if (kind == "sleeping") {
      return fmt::format("{} {}", from ? "from a sleep" : "asleep",
                         parked.contains("wakes_at_us")
                             ? "until " + Seconds(parked.value("wakes_at_us", int64_t{0}))
                             : where);
    }
    return (from ? "from " : "") + where;  // "blocked ...", "starting"
  }
  if (kind == "hello") return at + " its hello (its start)";
  if (kind == "yield") {
    const std::string item = parked.value("item", "");
    return at + " yield point " + parked.value("point", "?") +
           (item.empty() ? "" : " (" + item + ")");
  }
  if (kind == "sleep") {
    return fmt::format("{} a sleep of {} ms (due at {})", from ? "from" : "parked in",
                       parked.value("sleep_us", int64_t{0}) / 1000,
                       Seconds(parked.value("wakes_at_us", int64_t{0})));
  }
  if (kind == "command") {
    return from ? "from the end of its command" : "waiting for its command to end";
  }
  return "not parked";
}

// The locks the kernel lists for the process's descriptors.
json KernelLocks(pid_t pid, const std::string& coord) {
  json locks = json::array();
  const std::string fdinfo = fmt::format("/proc/{}/fdinfo", pid);
  DIR* dir = opendir(fdinfo.c_str());
  if (dir == nullptr) return locks;
  std::vector<std::string> fds;
  while (dirent* d = readdir(dir)) {
    if (d->d_name[0] != '.') fds.emplace_back(d->d_name);
  }
  closedir(dir);
  std::sort(fds.begin(), fds.end(),
            [](const std::string& a, const std::string& b) { return std::stoi(a) < std::stoi(b); });
  for (const std::string& fd : fds) {
    std::ifstream in(fdinfo + "/" + fd);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("lock:", 0) != 0) continue;
      // "lock:\t1: FLOCK  ADVISORY  WRITE 1234 00:2f:5678 0 EOF"
      std::istringstream words(line.substr(5));
      std::string index, type, advisory, mode;
      words >> index >> type >> advisory >> mode;
      std::error_code ec;
      std::string path =
          std::filesystem::read_symlink(fmt::format("/proc/{}/fd/{}", pid, fd), ec).string();
      if (!coord.empty() && path.rfind(coord + "/", 0) == 0) path = path.substr(coord.size() + 1);
      std::string lower_type = type;
      for (char& c : lower_type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string lower_mode = mode;
      for (char& c : lower_mode) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      locks.push_back(
          {{"fd", std::stoi(fd)}, {"type", lower_type}, {"mode", lower_mode}, {"path", path}});
    }
  }
  return locks;
}

// The state letter of /proc/PID/stat: 't' stopped by a tracer, 'T' by a signal.
char ProcState(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

// A trace line for a person; the engine's lines about a process say which.
json LineJson(const json& line) {
  std::string proc = line.value("proc", "");
  const std::string about = line.value("agent", "");
  if (proc == "sim" && !about.empty()) proc += " (" + about + ")";
  return {{"seq", line.value("seq", uint64_t{0})},
          {"t_us", line.value("t", int64_t{0})},
          {"proc", proc},
          {"what", reports::DescribeLine(line)}};
}

}  // namespace

ReplayStops::ReplayStops(StopPlan plan) : plan_(std::move(plan)) {
  stepping_ = plan_.step && !plan_.stop_at;
  sigset_t resume;
  sigemptyset(&resume);
  sigaddset(&resume, SIGUSR1);
  sigaddset(&resume, SIGUSR2);
  sigprocmask(SIG_BLOCK, &resume, nullptr);
  signal_fd_ = signalfd(-1, &resume, SFD_CLOEXEC | SFD_NONBLOCK);
  if (!plan_.recorded_trace.empty()) recorded_.open(plan_.recorded_trace);
}

ReplayStops::~ReplayStops() {
  if (signal_fd_ >= 0) close(signal_fd_);
}

void ReplayStops::Observe(const json& line) {
  holdings_.Observe(TraceEvent::FromJson(line));
  const uint64_t seq = line.value("seq", uint64_t{0});
  if (plan_.stop_at && seq == *plan_.stop_at) target_line_ = line;
  recent_.push_back(line);
  if (recent_.size() > kRecentLines) recent_.pop_front();
  if (!diverged_at_ && recorded_.is_open()) {
    std::string recorded;
    if (!std::getline(recorded_, recorded) || recorded != line.dump()) diverged_at_ = seq;
  }
}

void ReplayStops::Between(const StopView& view) {
  std::string why;
  if (stepping_) {
    why = view.ending ? "--step: the scheduling loop has ended" : "--step";
  } else if (plan_.stop_at && !reached_ && view.lines > *plan_.stop_at) {
    why = plan_.why;
  } else if (plan_.stop_at && !reached_ && view.ending) {
    why = fmt::format(
        "{}: seq {} comes after the scheduling loop (the end-of-run lines: stop, "
        "snapshot, state_check, run_end); this is the run as its loop ended",
        plan_.why, *plan_.stop_at);
  }
  if (!why.empty()) {
    if (plan_.stop_at && !reached_) {
      reached_ = true;
      stepping_ = plan_.step;
    }
    ++stops_;
    const json report = Report(view, why);
    Publish(report);
    Wait(view, report);
  }
  previous_lines_ = view.lines;
  previous_next_ = nullptr;
  if (view.next >= 0) {
    const StopProcess& next = view.processes[static_cast<size_t>(view.next)];
    previous_next_ = {{"proc", next.id}, {"from", ParkedJson(next)}};
  }
}

json ReplayStops::Report(const StopView& view, const std::string& why) const {
  json report = {{"stop", stops_},
                 {"why", why},
                 {"seq", view.lines == 0 ? json() : json(view.lines - 1)},
                 {"t_us", view.t_us},
                 {"steps", view.steps},
                 {"ending", view.ending},
                 {"coord", view.coord},
                 {"harness_pid", getpid()},
                 {"resume", fmt::format("kill -USR1 {}", getpid())},
                 {"run_to_end", fmt::format("kill -USR2 {}", getpid())},
                 {"diverged_at", diverged_at_ ? json(*diverged_at_) : json()}};
  report["target"] = target_line_ && reached_ && plan_.stop_at ? LineJson(*target_line_) : json();
  json ran = previous_next_.is_null() ? json() : previous_next_;
  if (!ran.is_null()) {
    ran["wrote"] = json::array();
    for (const json& line : recent_) {
      if (line.value("seq", uint64_t{0}) >= previous_lines_) ran["wrote"].push_back(LineJson(line));
    }
  }
  report["last_decision"] = ran;
  report["recent"] = json::array();
  for (const json& line : recent_) report["recent"].push_back(LineJson(line));
  report["next"] =
      view.next >= 0 ? json(view.processes[static_cast<size_t>(view.next)].id) : json();
  json processes = json::array();
  for (const StopProcess& p : view.processes) {
    json claims = json::array();
    for (const reports::HeldClaim& c : holdings_.Of(p.id)) {
      claims.push_back({{"item", c.item},
                        {"token", c.token},
                        {"lease_until_us", c.lease_until_us},
                        {"seq", c.seq},
                        {"orphaned", c.orphaned},
                        {"superseded_seq", c.superseded_seq ? json(c.superseded_seq) : json()},
                        {"text", reports::Describe(c)}});
    }
    json entry = {{"id", p.id},       {"role", p.role},     {"pid", p.pid},
                  {"alive", p.alive}, {"starts", p.starts}, {"parked", ParkedJson(p)},
                  {"claims", claims}};
    if (!p.command.empty()) {
      // Grants are the agent's (the history knows no more); the command acts for it.
      entry["command"] = {{"name", p.command}, {"agent", p.owner}, {"program", p.program}};
    }
    entry["locks"] = p.alive ? KernelLocks(p.pid, view.coord) : json::array();
    entry["stalled_until_us"] = p.stalled_until_us >= 0 ? json(p.stalled_until_us) : json();
    entry["attach"] = p.alive ? json(fmt::format("gdb -p {}", p.pid)) : json();
    processes.push_back(std::move(entry));
  }
  report["processes"] = std::move(processes);
  return report;
}

namespace {

// One decision, for --step: who was let go, what it wrote, where it and the
// next pick wait now.
std::string StepText(const json& r) {
  std::string s;
  const json& d = r["last_decision"];
  s += fmt::format("step {} ({}): ", r.value("steps", uint64_t{0}),
                   Seconds(r.value("t_us", int64_t{0})));
  if (d.is_null()) {
    s += "nothing ran yet\n";
  } else {
    s += fmt::format("{} was let go {}\n", d.value("proc", ""), ParkedText(d["from"], true));
    for (const json& line : d["wrote"]) {
      s += fmt::format("  seq {:>5}  {:<8} {}\n", line["seq"].get<uint64_t>(),
                       line.value("proc", ""), line.value("what", ""));
    }
  }
  for (const bool next : {false, true}) {
    for (const json& p : r["processes"]) {
      const std::string id = p.value("id", "");
      if (next ? r["next"] != id : d.is_null() || d.value("proc", "") != id) continue;
      s += fmt::format("  {} {:<8} {}\n", next ? "next:" : "now: ", id,
                       p.value("alive", false) ? ParkedText(p["parked"]) : "not running");
    }
  }
  return s;
}

}  // namespace

std::string ReplayStops::Text(const json& r, bool full) const {
  // The first stop of a replay is always shown whole.
  if (!full && r.value("why", "") == "--step" && r.value("stop", 0) > 1) return StepText(r);
  std::string s = fmt::format("\n── stop {}: {} ──\n", r["stop"].get<int>(), r.value("why", ""));
  s += fmt::format("run time {}, {} steps taken, {} trace lines written\n",
                   Seconds(r.value("t_us", int64_t{0})), r.value("steps", uint64_t{0}),
                   r["seq"].is_null() ? 0 : r["seq"].get<uint64_t>() + 1);
  if (!r["target"].is_null()) {
    const json& t = r["target"];
    s += fmt::format("  seq {} ({}): {}  {}\n", t["seq"].get<uint64_t>(),
                     Seconds(t["t_us"].get<int64_t>()), t.value("proc", ""), t.value("what", ""));
  }
  if (!r["last_decision"].is_null()) {
    const json& d = r["last_decision"];
    s += fmt::format("last decision: {} was let go {}\n", d.value("proc", ""),
                     ParkedText(d["from"], true));
    for (const json& line : d["wrote"]) {
      s += fmt::format("  seq {:>5}  {:<8} {}\n", line["seq"].get<uint64_t>(),
                       line.value("proc", ""), line.value("what", ""));
    }
  }
  if (!r["diverged_at"].is_null()) {
    s += fmt::format(
        "WARNING: this replay wrote another line than the recording at seq {}: it is "
        "not the recorded run (docs/determinism.md)\n",
        r["diverged_at"].get<uint64_t>());
  }
  s += r.value("ending", false) ? "the scheduling loop has ended; every live process is parked:\n"
                                : "every live process is parked:\n";
  for (const json& p : r["processes"]) {
    if (!p.value("alive", false)) {
      s += fmt::format("  {:<8} {:<7} not running (exited or killed)\n", p.value("id", ""),
                       p.value("role", ""));
    } else if (p.contains("command")) {
      const json& c = p["command"];
      s += fmt::format("  {:<8} {:<7} pid {:<7} {}\n", p.value("id", ""), p.value("role", ""),
                       p["pid"].get<int>(), ParkedText(p["parked"]));
      s += fmt::format("           process {} of {}'s command, running {}\n",
                       c.value("name", ""), c.value("agent", ""), c.value("program", ""));
    } else {
      s += fmt::format("  {:<8} {:<7} pid {:<7} {}{}\n", p.value("id", ""), p.value("role", ""),
                       p["pid"].get<int>(), ParkedText(p["parked"]),
                       p["stalled_until_us"].is_null()
                           ? ""
                           : ", held by a fault until " + Seconds(p["stalled_until_us"]));
    }
    for (const json& c : p["claims"]) s += "           holds " + c.value("text", "") + "\n";
    for (const json& l : p["locks"]) {
      s += fmt::format("           lock  {} {} on {} (kernel, fd {})\n", l.value("type", ""),
                       l.value("mode", ""), l.value("path", ""), l["fd"].get<int>());
    }
    if (p.value("alive", false)) s += "           attach: " + p.value("attach", "") + "\n";
  }
  if (!r["next"].is_null()) {
    s += "next to run: " + r["next"].get<std::string>() + " (the scheduler's pick)\n";
  }
  s += "coordination directory: " + r.value("coord", "") + "\n";
  s += fmt::format("resume: {} (next stop){}; {} (run to the end)\n", r.value("resume", ""),
                   isatty(STDIN_FILENO) ? " or Enter" : "", r.value("run_to_end", ""));
  if (isatty(STDIN_FILENO)) {
    s += "  on this terminal: Enter resumes, c Enter runs to the end, s Enter shows every "
         "process again\n";
  }
  return s;
}

void ReplayStops::Publish(const json& report) const {
  if (plan_.report_path == "-") {
    std::printf("%s\n", report.dump().c_str());
  } else {
    std::fputs(Text(report).c_str(), stdout);
    if (!plan_.report_path.empty()) {
      const std::string tmp = plan_.report_path + ".tmp";
      std::ofstream(tmp) << report.dump(2) << "\n";
      std::rename(tmp.c_str(), plan_.report_path.c_str());
    }
  }
  std::fflush(stdout);
}

std::string ReplayStops::HeldByDebugger(const StopView& view) const {
  for (const StopProcess& p : view.processes) {
    if (!p.alive) continue;
    const char state = ProcState(p.pid);
    if (state == 't' || state == 'T') {
      return fmt::format(
          "{} (pid {}) is stopped by a debugger or a signal; detach it (gdb: "
          "detach) or continue it, and the run resumes",
          p.id, p.pid);
    }
  }
  return "";
}

void ReplayStops::Wait(const StopView& view, const json& report) {
  const bool tty = isatty(STDIN_FILENO) != 0;
  bool resume = false;
  std::string told;
  while (!g_interrupted.load()) {
    if (resume) {
      const std::string held = HeldByDebugger(view);
      if (held.empty()) return;
      if (held != told) std::fprintf(stderr, "faultline replay: %s\n", held.c_str());
      told = held;
    }
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    if (poll(fds, tty ? 2 : 1, 200) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      while (read(signal_fd_, &info, sizeof info) == sizeof info) {
        resume = true;
        if (info.ssi_signo == SIGUSR2) stepping_ = false;
      }
    }
    if (tty && (fds[1].revents & (POLLIN | POLLHUP))) {
      char buf[64];
      const ssize_t n = read(STDIN_FILENO, buf, sizeof buf - 1);
      if (n <= 0) continue;
      const std::string key(buf, static_cast<size_t>(n));
      if (key[0] == 's') {
        std::fputs(Text(report, /*full=*/true).c_str(), stdout);
        std::fflush(stdout);
      } else {
        resume = true;
        if (key[0] == 'c') stepping_ = false;
      }
    }
  }
}

}  // namespace faultline::cli
