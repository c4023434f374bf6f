#include "sim/proc_status.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace faultline::proc {

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// /proc/PID/stat is "pid (comm) S ppid ...": comm may hold spaces and
// parentheses, so the fields after it start after the last ')'.
std::string StatFields(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return "";
  return stat.substr(close + 2);
}

// The last number on the line of /proc/PID/status that starts with `key`.
pid_t LastOfStatusLine(pid_t pid, const std::string& key) {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) != 0) continue;
    std::istringstream fields(line.substr(key.size()));
    pid_t last = 0;
    for (pid_t v = 0; fields >> v;) last = v;
    return last;
  }
  return 0;
}

}  // namespace

pid_t InnerPid(pid_t pid) { return LastOfStatusLine(pid, "NSpid:"); }

pid_t InnerGroup(pid_t pid) { return LastOfStatusLine(pid, "NSpgid:"); }

std::string PidNamespace(pid_t pid) {
  char target[64];
  const std::string link = "/proc/" + std::to_string(pid) + "/ns/pid";
  const ssize_t n = readlink(link.c_str(), target, sizeof target);
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : "";
}

char State(pid_t pid) {
  const std::string f = StatFields(pid);
  return f.empty() ? '\0' : f[0];
}

pid_t Parent(pid_t pid) {
  std::istringstream in(StatFields(pid));
  char state = 0;
  pid_t ppid = 0;
  in >> state >> ppid;
  return ppid;
}

pid_t Group(pid_t pid) {
  std::istringstream in(StatFields(pid));
  char state = 0;
  pid_t ppid = 0, pgrp = 0;
  in >> state >> ppid >> pgrp;
  return pgrp;
}

std::string Command(pid_t pid) {
  std::string comm = ReadFile("/proc/" + std::to_string(pid) + "/comm");
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

std::vector<pid_t> Children(pid_t pid) {
  const std::string p = std::to_string(pid);
  std::istringstream in(ReadFile("/proc/" + p + "/task/" + p + "/children"));
  std::vector<pid_t> out;
  for (pid_t c = 0; in >> c;) out.push_back(c);
  return out;
}

std::string Describe(pid_t pid) {
  const char state = State(pid);
  std::string out = "pid " + std::to_string(pid);
  if (state == '\0') return out + " (gone)";
  out += " (" + Command(pid) + ") state " + std::string(1, state);
  const std::string wchan = ReadFile("/proc/" + std::to_string(pid) + "/wchan");
  if (!wchan.empty() && wchan != "0") out += " in " + wchan;
  return out;
}

}  // namespace faultline::proc
