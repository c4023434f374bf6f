#include "sim/sut/adapter.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <regex>

#include "sim/protocol/control_protocol.h"
#include "sim/protocol/faultline_agent.h"
#include "sim/protocol/interpose_protocol.h"
#include "sim/settings.h"
#include "sim/sut/command.h"
#include "sim/sut/sut_spec.h"
#include "sim/sut/template.h"

namespace faultline::sut {
namespace {

namespace point = protocol::point;
namespace probe = protocol::probe;
using nlohmann::json;

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// "a17" -> 17; the reaper and other names take the last slot.
int64_t AgentNumber(const std::string& id) {
  if (id.size() > 1 && id[0] == 'a' &&
      std::all_of(id.begin() + 1, id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::min<int64_t>(std::stoll(id.substr(1)), 1023);
  }
  return 1023;
}

struct Grant {
  std::string item;
  int64_t token = 0;
  std::string sut_token;  // what {token} becomes
  int64_t lease_until_us = 0;
};

// The first group of `pattern` in stdout, else in stderr.
std::optional<std::string> Extract(const std::string& pattern, const CommandResult& r) {
  const std::regex re(pattern, std::regex::ECMAScript | std::regex::multiline);
  for (const std::string* text : {&r.out, &r.err}) {
    const std::string head = text->substr(0, kMaxMatchedOutputBytes);
    std::smatch m;
    if (std::regex_search(head, m, re)) return m.size() > 1 ? m[1].str() : m[0].str();
  }
  return std::nullopt;
}

bool Matches(const std::string& pattern, const CommandResult& r) {
  return pattern.empty() ? false : Extract(pattern, r).has_value();
}

bool ExitIn(const std::vector<int>& codes, const CommandResult& r) {
  return r.end == CommandResult::End::kExited &&
         std::find(codes.begin(), codes.end(), r.code) != codes.end();
}

bool Failed(const CommandResult& r) {
  return r.end == CommandResult::End::kTimedOut || r.end == CommandResult::End::kSignaled ||
         r.end == CommandResult::End::kNotRun;
}

// The operation succeeded: an accepted exit code and, if given, the pattern.
bool Succeeded(const Operation& op, const CommandResult& r) {
  return ExitIn(op.ok_exit, r) && (op.ok_match.empty() || Matches(op.ok_match, r));
}

// Tells the engine, in the middle of a step, the pid of the command just
// started under interposition and its timeout, which the engine counts in
// simulated time ({"spawned": PID, "timeout_ms": T}, control_protocol.h).
void SendSpawned(pid_t pid, int64_t timeout_ms) {
  fl__buffer b;
  b.len = 0;
  b.overflow = 0;
  b.text[0] = '\0';
  fl__put(&b, "{\"");
  fl__put(&b, protocol::kSpawned);
  fl__put(&b, "\":");
  fl__put_int(&b, static_cast<long long>(pid));
  fl__put(&b, ",\"");
  fl__put(&b, protocol::kTimeoutMs);
  fl__put(&b, "\":");
  fl__put_int(&b, static_cast<long long>(timeout_ms));
  fl__put(&b, "}");
  fl__send(&b);
}

class Adapter {
 public:
  explicit Adapter(const AdapterOptions& o)
      : o_(o), spec_(ParseSut(o.config.at("sut"))), rng_(o.seed ^ 0x5bd1e995ULL) {
    const json& c = o.config;
    const ScenarioSettings defaults;
    lease_us_ = c.value("lease_ms", defaults.lease_ms) * 1000;
    work_min_ms_ = c.at("work_ms")[0].get<int64_t>();
    work_max_ms_ = c.at("work_ms")[1].get<int64_t>();
    base_ = {{"dir", c.value("dir", "")},
             {"seed", std::to_string(o.seed)},
             {"items", std::to_string(c.value("items", 0))},
             {"agent", o.id},
             {"pid", std::to_string(getpid())},
             {"work_min_ms", std::to_string(work_min_ms_)},
             {"work_max_ms", std::to_string(work_max_ms_)}};
    // Every coordinator setting is a placeholder (sim/settings.h).
    for (const SettingSpec& spec : SettingTable()) {
      if (spec.group != SettingGroup::kCoordinator) continue;
      const std::string key(spec.name);
      base_[key] = std::to_string(c.value(key, spec.default_value));
    }
    reap_interval_us_ = c.value("reap_interval_ms", defaults.reap_interval_ms) * 1000;
    // "interleave": "syscalls" in lockstep: the engine gave the library's
    // path and socket (engine_interposed.cc); each command runs under it.
    if (const char* lib = std::getenv(FL_IP_LIB_ENV);
        spec_.interleave == Interleave::kSyscalls && lib != nullptr && *lib != '\0') {
      interpose_lib_ = lib;
    }
  }

  int Run() {
    fl_start(o_.role.c_str(), o_.id.c_str());
    return o_.role == "reaper" ? RunReaper() : RunAgent();
  }

 private:
  int RunAgent() {
    if (spec_.adapter.register_op) {
      fl_yield(point::kOpRegister, "");
      CommandResult r = RunOp("register", *spec_.adapter.register_op, {});
      if (Failed(r)) return kExitGaveUp;
      if (!Succeeded(*spec_.adapter.register_op, r)) {
        fl_event("refused", "\"agent\":\"%s\",\"reason\":\"the register command failed: %s\"",
                 o_.id.c_str(), JsonText(r.Describe(Timeout(*spec_.adapter.register_op))).c_str());
        return 1;
      }
      fl_register(o_.id.c_str(), "");
    }
    for (;;) {
      fl_yield(point::kOpClaim, "");
      Grant grant;
      switch (Claim(&grant)) {
        case Outcome::kGranted:
          if (Work(grant)) Complete(grant);
          break;
        case Outcome::kEmpty:
          return 0;
        case Outcome::kFailed:
          if (failures_ >= kMaxFailures) return kExitGaveUp;
          Idle();
          break;
        case Outcome::kNothing:
          Idle();
          break;
      }
    }
  }

  int RunReaper() {
    if (!spec_.adapter.reap) return 0;
    for (;;) {
      fl_sleep_us(reap_interval_us_);
      fl_yield(point::kOpReap, "");
      CommandResult r = RunOp("reap", *spec_.adapter.reap, {});
      if (Failed(r)) {
        if (failures_ >= kMaxFailures) return kExitGaveUp;
        continue;
      }
      if (Succeeded(*spec_.adapter.reap, r)) fl_probe(probe::kOpReapOk, 1);
      if (Succeeded(*spec_.adapter.reap, r)) fl_event("reap", "\"agent\":\"%s\"", o_.id.c_str());
    }
  }

  enum class Outcome { kGranted, kNothing, kEmpty, kFailed };

  Outcome Claim(Grant* grant) {
    const Operation& op = *spec_.adapter.claim;
    CommandResult r = RunOp("claim", op, {});
    if (Failed(r)) return Outcome::kFailed;
    if (ExitIn(op.empty_exit, r) || Matches(op.empty_match, r)) {
      fl_probe(probe::kOpClaimEmpty, 1);
      return Outcome::kEmpty;
    }
    std::optional<std::string> item;
    if (Succeeded(op, r)) item = Extract(op.item, r);
    if (!item || item->empty()) {
      if (Matches(op.conflict_match, r)) {
        fl_probe(probe::kOpClaimContended, 1);
        fl_event("claim_contended", "\"agent\":\"%s\",\"tried\":1", o_.id.c_str());
      }
      return Outcome::kNothing;
    }
    const int64_t now = fl_now_us();
    grant->item = *item;
    grant->lease_until_us = op_clock_us_ + lease_us_;
    std::optional<std::string> sut_token;
    if (!op.token.empty()) sut_token = Extract(op.token, r);
    grant->token = now * 1024 + AgentNumber(o_.id);
    if (sut_token && !sut_token->empty() &&
        sut_token->find_first_not_of("0123456789") == std::string::npos && sut_token->size() < 18) {
      grant->token = std::stoll(*sut_token);
    }
    grant->sut_token = sut_token.value_or(std::to_string(grant->token));
    fl_probe(probe::kOpClaimGranted, 1);
    fl_claim_ok(o_.id.c_str(), grant->item.c_str(), grant->token, grant->lease_until_us);
    return Outcome::kGranted;
  }

  // Sleeps the item's work time, reporting progress every lease/2. False if
  // the grant was lost.
  bool Work(Grant& g) {
    const int64_t span = work_max_ms_ - work_min_ms_;
    const int64_t work_ms =
        work_min_ms_ + (span > 0 ? static_cast<int64_t>(SplitMix64(rng_) % (span + 1)) : 0);
    const int64_t done_at = fl_now_us() + work_ms * 1000;
    const bool progress = spec_.adapter.progress.has_value();
    int64_t renew_at = fl_now_us() + lease_us_ / 2;
    for (;;) {
      int64_t now = fl_now_us();
      if (now >= done_at) return true;
      const int64_t wake = progress ? std::min(done_at, renew_at) : done_at;
      fl_sleep_us(wake - now);
      now = fl_now_us();
      if (!progress || now < renew_at || now >= done_at) continue;
      fl_yield(point::kOpProgress, g.item.c_str());
      CommandResult r = RunOp("progress", *spec_.adapter.progress, GrantValues(g));
      if (Failed(r)) {
        Release(g, "the progress command failed");
        return false;
      }
      if (!Succeeded(*spec_.adapter.progress, r)) {
        fl_probe(probe::kOpRenewRejected, 1);
        fl_event("renew_rejected",
                 "\"agent\":\"%s\",\"item\":\"%s\",\"token\":%lld,\"reason\":\"%s\"",
                 o_.id.c_str(), JsonText(g.item).c_str(), static_cast<long long>(g.token),
                 JsonText(r.Describe(0)).c_str());
        return false;
      }
      // The SUT's lease runs from the clock the command was given, not from
      // when it returned (a slow command on a busy machine returns late).
      g.lease_until_us = op_clock_us_ + lease_us_;
      renew_at = op_clock_us_ + lease_us_ / 2;
      fl_probe(probe::kOpRenewOk, 1);
      fl_renew_ok(o_.id.c_str(), g.item.c_str(), g.token, g.lease_until_us);
    }
  }

  void Complete(const Grant& g) {
    fl_yield(point::kOpComplete, g.item.c_str());
    CommandResult r = RunOp("complete", *spec_.adapter.complete, GrantValues(g));
    if (Failed(r)) return;
    if (!Succeeded(*spec_.adapter.complete, r)) {
      fl_probe(probe::kOpCompleteRejected, 1);
      fl_event("complete_rejected",
               "\"agent\":\"%s\",\"item\":\"%s\",\"token\":%lld,\"reason\":\"%s\"",
               o_.id.c_str(), JsonText(g.item).c_str(), static_cast<long long>(g.token),
               JsonText(r.Describe(0)).c_str());
      return;
    }
    // The SUT accepted the completion: the item's effect counts as written
    // under this grant (exactly_once_effect counts these).
    fl_effect(o_.id.c_str(), g.item.c_str(), g.token);
    fl_probe(probe::kOpCompleteOk, 1);
    fl_complete_ok(o_.id.c_str(), g.item.c_str(), g.token);
  }

  void Release(const Grant& g, const char* reason) {
    if (!spec_.adapter.release) return;
    fl_yield(point::kOpRelease, g.item.c_str());
    CommandResult r = RunOp("release", *spec_.adapter.release, GrantValues(g));
    if (!Failed(r) && Succeeded(*spec_.adapter.release, r)) {
      fl_probe(probe::kOpReleaseOk, 1);
      fl_release(o_.id.c_str(), g.item.c_str(), g.token, reason);
    }
  }

  void Idle() {
    const int64_t idle_us = spec_.adapter.idle_ms * 1000;
    fl_sleep_us(idle_us + static_cast<int64_t>(SplitMix64(rng_) % static_cast<uint64_t>(idle_us)));
  }

  Values GrantValues(const Grant& g) const { return {{"item", g.item}, {"token", g.sut_token}}; }

  int64_t Timeout(const Operation& op) const {
    return op.timeout_ms > 0 ? op.timeout_ms : spec_.timeout_ms;
  }

  // Runs one operation's command with the current clock; records failures.
  CommandResult RunOp(const char* name, const Operation& op, const Values& extra) {
    Values values = base_;
    const int64_t now = fl_now_us();
    op_clock_us_ = now;
    values["now_us"] = std::to_string(now);
    values["now_ms"] = std::to_string(now / 1000);
    for (const auto& [k, v] : extra) values[k] = v;
    Command c;
    c.argv = ExpandCommand(op.run, values);
    for (const auto& [key, value] : spec_.env) c.env.emplace_back(key, Expand(value, values, false));
    c.env.emplace_back("FAULTLINE_NOW_MS", values["now_ms"]);
    c.cwd = spec_.cwd;
    c.timeout_ms = Timeout(op);
    const int64_t timeout_ms = c.timeout_ms;
    bool spawned = false;
    if (!interpose_lib_.empty() && fl_lockstep()) {
      // Every process of the command is the engine's to schedule: the
      // adapter tells it the command's pid and, once the command has ended,
      // waits to be scheduled again. The command's steps interleave with
      // other agents' commands, so its wall time says nothing about it: the
      // engine ends it at its timeout in simulated time, and its step
      // watchdog catches a command that blocks uncontrolled (a harness
      // error). The wall-time bound here is a last resort only.
      const char* preload = std::getenv("LD_PRELOAD");
      c.env.emplace_back("LD_PRELOAD", preload != nullptr && *preload != '\0'
                                           ? interpose_lib_ + ":" + preload
                                           : interpose_lib_);
      c.timeout_ms = kInterposedTimeoutMs;
      c.on_start = [&spawned, timeout_ms](pid_t pid) {
        spawned = true;
        SendSpawned(pid, timeout_ms);
      };
    }
    CommandResult r = RunCommand(c);
    if (spawned) {
      fl__await_go();
      // The engine killed it at its timeout: a hang, not a crash.
      if (fl__get()->timed_out) r.end = CommandResult::End::kTimedOut;
    }
    c.timeout_ms = timeout_ms;  // what the messages below say
    // Reap what the command left behind (the adapter is a subreaper; the
    // guard, its only child, has been reaped).
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ReportProbes(r.err);
    std::fprintf(stderr, "%s %s: %s%s%s\n", o_.id.c_str(), name,
                 r.Describe(c.timeout_ms).c_str(), r.FirstLine().empty() ? "" : ": ",
                 r.FirstLine().c_str());
    if (spawned && r.end == CommandResult::End::kSignaled && r.signal == SIGKILL) {
      // Under interposition only the harness SIGKILLs a command (a crash_at
      // inside it, docs/interposition.md): a fault, not the SUT's failure.
      auto item = extra.find("item");
      fl_event("command_crashed", "\"agent\":\"%s\",\"op\":\"%s\",\"item\":\"%s\"",
               o_.id.c_str(), name, item == extra.end() ? "" : JsonText(item->second).c_str());
    } else if (Failed(r)) {
      ++failures_;
      const char* failure = r.end == CommandResult::End::kTimedOut ? "timeout"
                            : r.end == CommandResult::End::kSignaled ? "signal"
                                                                      : "not_run";
      auto item = extra.find("item");
      fl_probe(probe::kOpCommandFailed, 1);
      fl_event("sut_command_failed",
               "\"agent\":\"%s\",\"op\":\"%s\",\"item\":\"%s\",\"failure\":\"%s\",\"how\":\"%s\","
               "\"first_line\":\"%s\"",
               o_.id.c_str(), name, item == extra.end() ? "" : JsonText(item->second).c_str(),
               failure, JsonText(r.Describe(c.timeout_ms)).c_str(),
               JsonText(r.FirstLine()).c_str());
    } else {
      failures_ = 0;
    }
    return r;
  }

  // Every "faultline-probe: NAME" line of a command's stderr is a probe
  // reached; "faultline-probe: NAME false" a "sometimes" condition that did
  // not hold (docs/external-sut.md).
  static void ReportProbes(const std::string& err) {
    const std::string prefix = protocol::kProbeLinePrefix;
    size_t start = 0;
    while (start < err.size()) {
      size_t nl = err.find('\n', start);
      if (nl == std::string::npos) nl = err.size();
      std::string line = err.substr(start, nl - start);
      start = nl + 1;
      if (line.rfind(prefix, 0) != 0) continue;
      line.erase(0, prefix.size());
      while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
      bool hit = true;
      for (const char* word : {" false", " true"}) {
        const std::string w = word;
        if (line.size() > w.size() && line.compare(line.size() - w.size(), w.size(), w) == 0) {
          hit = w == " true";
          line.erase(line.size() - w.size());
        }
      }
      if (!line.empty() && line.find(' ') == std::string::npos) fl_probe(line.c_str(), hit);
    }
  }

  // `text` escaped for use inside a JSON string.
  static std::string JsonText(const std::string& text) {
    std::string quoted = json(text).dump(-1, ' ', false, json::error_handler_t::replace);
    return quoted.substr(1, quoted.size() - 2);
  }

  const AdapterOptions& o_;
  SutSpec spec_;
  uint64_t rng_;
  Values base_;
  int64_t lease_us_ = 0, reap_interval_us_ = 0;
  int64_t work_min_ms_ = 0, work_max_ms_ = 0;
  int failures_ = 0;
  std::string interpose_lib_;  // "": commands run whole within one step
  // The clock the latest command was given ({now_us}, FAULTLINE_NOW_MS). A
  // lease the SUT grants or extends runs from it: in freerun the command may
  // take long on a busy machine, and a lease counted from its return would
  // outlast the SUT's own, so a legitimate takeover would look like two owners.
  int64_t op_clock_us_ = 0;
};

}  // namespace

int RunAdapter(const AdapterOptions& options) {
  Adapter adapter(options);
  return adapter.Run();
}

}  // namespace faultline::sut
