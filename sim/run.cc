#include "sim/run.h"

#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

#include "sim/net_relay.h"
#include "sim/private_tmpfs.h"
#include "sim/run_containment.h"
#include "sim/sut.h"
#include "sim/trace_writer.h"

namespace faultline {
namespace {

namespace stdfs = std::filesystem;

constexpr std::string_view kWorkPrefix = "faultline-run-";
// Wall time a client may wait on a blackholed link before its connection is
// reset (its TCP timeout, shortened: in lockstep it costs wall time only).
constexpr int64_t kRelayHangMs = 25;
// Judged in every run, listed or not (sim/invariants/no_unplanned_crash.h;
// the core cannot include the plug-in, so it names it).
constexpr const char* kAlwaysChecked = "no_unplanned_crash";

// A harness that was SIGKILLed without a PID namespace for its run (see
// sim/run_containment.h) could not remove its scratch directory; the next
// run does. The directory names carry the owner's pid.
void RemoveStaleWorkDirs(const std::string& base) {
  std::error_code ec;
  for (auto it = stdfs::directory_iterator(base, ec); !ec && it != stdfs::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(kWorkPrefix, 0) != 0) continue;
    const int pid = std::atoi(name.c_str() + kWorkPrefix.size());
    if (pid <= 0 || pid == getpid() || kill(pid, 0) == 0 || errno == EPERM) continue;
    std::error_code rm;
    stdfs::remove_all(it->path(), rm);
  }
}

// Where the scratch directory for the coordination directory goes (a
// mkdtemp template): tmpfs when there is one, so that fsync-heavy
// coordinators do not make the simulation disk-bound.
std::string WorkDirTemplate() {
  const char* env = std::getenv("FAULTLINE_WORKDIR");
  std::string base = env && *env ? env : (stdfs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp");
  RemoveStaleWorkDirs(base);
  return fmt::format("{}/{}{}-XXXXXX", base, kWorkPrefix, getpid());
}

struct Checker {
  std::string name;
  std::unique_ptr<Invariant> impl;
};

std::string Seconds(int64_t us) { return fmt::format("{:.2f} s", static_cast<double>(us) / 1e6); }

// A differential run's counterpart (DifferentialPlan, sim/sut.h): the same
// resolved scenario and seed against the other system, judged by the same
// invariants but no_semantic_drift, in RUN_DIR/differential/.
ResolvedScenario CounterpartOf(const ResolvedScenario& s, const SutFactory& suts) {
  ResolvedScenario c = s;
  c.sut = suts.Differential(s.differential).against;
  c.differential = nullptr;
  std::erase(c.invariants, "no_semantic_drift");
  return c;
}

// Hands the counterpart's history to every checker, opened by a
// differential_start event (in no trace) that says what is compared and how
// to reproduce it.
void FeedCounterpart(const ResolvedScenario& s, const SutFactory& suts,
                     const RunReport& counterpart, const std::string& reproduce,
                     std::vector<Checker>* checkers) {
  const DifferentialPlan spec = suts.Differential(s.differential);
  const TraceEvent start = TraceEvent::FromJson({{"type", "differential_start"},
                                                 {"label", suts.Label(s.sut)},
                                                 {"against", suts.Label(spec.against)},
                                                 {"compare", spec.compare},
                                                 {"run_dir", counterpart.run_dir},
                                                 {"reproduce", reproduce}});
  for (Checker& c : *checkers) c.impl->ObserveCounterpart(start);
  std::ifstream trace(counterpart.run_dir + "/trace.jsonl");
  for (std::string line; std::getline(trace, line);) {
    const TraceEvent e = TraceEvent::FromJson(nlohmann::json::parse(line, nullptr, false));
    for (Checker& c : *checkers) c.impl->ObserveCounterpart(e);
  }
}

// What the verdict says about the counterpart's run.
nlohmann::json CounterpartVerdict(const ResolvedScenario& s, const SutFactory& suts,
                                  const RunReport& counterpart) {
  const DifferentialPlan spec = suts.Differential(s.differential);
  const nlohmann::json& v = counterpart.verdict;
  return {{"against", suts.Label(spec.against)},
          {"compare", spec.compare},
          {"run_dir", counterpart.run_dir},
          {"ok", v.value("ok", false)},
          {"vacuous", v.value("vacuous", false)},
          {"trace_sha256", v.value("trace_sha256", "")},
          {"wall_ms", v.contains("stats") ? v["stats"].value("wall_ms", 0) : 0}};
}

// The expected probes of `s` the run missed: {"probe", "kind"} with kind
// "reached" (never reported) or "sometimes" (its condition never held).
nlohmann::json UnmetExpectations(const ResolvedScenario& s,
                                 const std::map<std::string, ProbeCount>& probes) {
  nlohmann::json unmet = nlohmann::json::array();
  auto count = [&](const std::string& name) {
    const auto it = probes.find(name);
    return it == probes.end() ? ProbeCount{} : it->second;
  };
  for (const std::string& name : s.expect_reached) {
    if (count(name).reached == 0) unmet.push_back({{"probe", name}, {"kind", "reached"}});
  }
  for (const std::string& name : s.expect_sometimes) {
    if (count(name).hits == 0) unmet.push_back({{"probe", name}, {"kind", "sometimes"}});
  }
  return unmet;
}

std::string VacuityText(bool fault_vacuous, const nlohmann::json& unmet) {
  std::string text = fault_vacuous ? " (VACUOUS: a fault never fired)" : "";
  if (unmet.empty()) return text;
  std::string names;
  for (const nlohmann::json& u : unmet) {
    names += (names.empty() ? "" : ", ") + u["probe"].get<std::string>() +
             (u["kind"] == "sometimes" ? " (sometimes)" : "");
  }
  return text + " (VACUOUS: expected probes never reached: " + names + ")";
}

}  // namespace

RunReport RunScenario(const ResolvedScenario& s, const Catalog& catalog, const RunOptions& o) {
  RunReport report;
  report.run_dir = fmt::format("{}/{}-{}{}", o.out_dir, s.name, s.seed, o.run_dir_suffix);
  if (catalog.suts == nullptr) {
    report.exit_code = kExitHarness;
    report.summary = "this harness was built without systems under test (Catalog::suts)\n";
    return report;
  }
  const SutFactory& suts = *catalog.suts;
  std::error_code ec;
  stdfs::remove_all(report.run_dir, ec);
  stdfs::create_directories(report.run_dir + "/logs", ec);
  if (ec) {
    report.exit_code = kExitHarness;
    report.summary = fmt::format("cannot create {}: {}\n", report.run_dir, ec.message());
    return report;
  }
  const std::string resolved_path = report.run_dir + "/scenario.resolved.json";
  std::ofstream(resolved_path) << s.ToJson().dump(2) << "\n";
  const std::string reproduce = "faultline run " + resolved_path;

  std::vector<Checker> checkers;
  // An invariant that cannot observe what it needs in this run (an external
  // SUT shows less than the reference coordinator) is not run: it is listed
  // as not applicable rather than passing vacuously.
  const unsigned observed = suts.Observations(s.sut) |
                            (s.differential.is_null() ? 0u : observes::kCounterpart);
  nlohmann::json not_applicable = nlohmann::json::array();
  std::string not_applicable_names;
  // A crash no fault caused is a finding whatever the scenario lists.
  std::vector<std::string> judged = s.invariants;
  if (std::find(judged.begin(), judged.end(), kAlwaysChecked) == judged.end() &&
      catalog.FindInvariant(kAlwaysChecked) != nullptr) {
    judged.emplace_back(kAlwaysChecked);
  }
  for (const std::string& name : judged) {
    const InvariantKind* kind = catalog.FindInvariant(name);
    if (kind == nullptr) continue;
    if (const unsigned missing = kind->needs & ~observed; missing != 0) {
      not_applicable.push_back({{"name", name}, {"why", suts.MissingObservations(missing)}});
      not_applicable_names += (not_applicable_names.empty() ? "" : ", ") + name;
      continue;
    }
    checkers.push_back({name, kind->make(s.InvariantOptions(*kind))});
  }
  // A differential run runs the counterpart first, in a run directory of its own.
  RunReport counterpart;
  if (!s.differential.is_null()) {
    RunOptions co = o;
    co.out_dir = report.run_dir + "/differential";
    co.run_dir_suffix.clear();
    co.stop = nullptr;  // a debugger stops the run it was asked about
    counterpart = RunScenario(CounterpartOf(s, suts), catalog, co);
    if (counterpart.exit_code == kExitHarness || counterpart.exit_code == kExitInterrupted) {
      report.exit_code = counterpart.exit_code;
      report.summary = fmt::format("{} (seed {}): the differential run against {} did not "
                                   "finish:\n  {}",
                                   s.name, s.seed, suts.Label(CounterpartOf(s, suts).sut),
                                   counterpart.summary);
      return report;
    }
    FeedCounterpart(s, suts, counterpart, reproduce, &checkers);
  }
  TraceWriter trace(report.run_dir + "/trace.jsonl", [&](const nlohmann::json& line) {
    TraceEvent e = TraceEvent::FromJson(line);
    for (Checker& c : checkers) c.impl->Observe(e);
    if (o.stop != nullptr) o.stop->Observe(line);
  });
  if (!trace.ok()) {
    report.exit_code = kExitHarness;
    report.summary = "cannot write " + report.run_dir + "/trace.jsonl\n";
    return report;
  }

  ResourceLog resources(report.run_dir + "/resources.jsonl");
  // The network relay of a run on a database server is a thread, which
  // cannot be created inside the run's PID namespace: it starts here.
  std::unique_ptr<NetRelay> relay;
  if (s.store == "postgres") {
    auto started = NetRelay::Start("", kRelayHangMs);
    if (!started.ok()) {
      report.exit_code = kExitHarness;
      report.summary = "cannot start the network relay: " + started.status().message() + "\n";
      return report;
    }
    relay = std::move(*started);
  }
  // Everything the run starts from here on lives in a PID namespace of its
  // own and dies with the run, or with this process; so does the scratch
  // directory (sim/run_containment.h).
  RunContainment containment(WorkDirTemplate());
  const std::string work = containment.scratch();
  EngineOptions eo;
  eo.resources = &resources;
  eo.work_dir = work;
  eo.log_dir = report.run_dir + "/logs";
  eo.interrupted = o.interrupted;
  eo.progress = o.progress;
  eo.stop = s.mode == Mode::kLockstep ? o.stop : nullptr;
  eo.sink_command = o.sink_command;
  eo.relay = relay.get();
  if (eo.sink_command.empty()) {
    std::error_code self_ec;
    eo.sink_command = {stdfs::read_symlink("/proc/self/exe", self_ec).string(), "sink"};
  }
  // Faults that fill the disk need the scratch directory on a file system
  // of their own, of a known size.
  int64_t tmpfs_mb = 0;
  for (const FaultInstance& f : s.faults) {
    const FaultKind* kind = catalog.FindFault(f.kind);
    if (kind) tmpfs_mb = std::max(tmpfs_mb, kind->make(f.options)->PrivateTmpfsMb());
  }
  EngineResult r;
  bool mounted = false;
  if (work.empty()) {
    r.end = EngineResult::End::kHarnessError;
    r.error = "cannot create a scratch directory (set FAULTLINE_WORKDIR to a writable place)";
  } else if (tmpfs_mb > 0 && !(mounted = MountPrivateTmpfs(work, tmpfs_mb).ok())) {
    r.end = EngineResult::End::kHarnessError;
    r.error = "this scenario fills a disk, which is not supported on this host: " +
              MountPrivateTmpfs(work, tmpfs_mb).message();
  } else {
    std::unique_ptr<Sut> sut = suts.Make(
        s, SutPaths{work + "/coord", work, eo.log_dir, o.swarm_bin, o.adapter_bin});
    eo.sut = sut.get();
    r = RunEngine(s, catalog, eo, &trace);
  }
  // Nothing of the run runs any more, but its supervisor is there to remove
  // the scratch directory should this process die before it has.
  containment.Quiesce();
  if (!work.empty()) {
    if (o.keep) {
      // The coordination directory, whatever the system (SutPaths::dir).
      stdfs::rename(work + "/coord", report.run_dir + "/coord", ec);
      if (ec) stdfs::copy(work + "/coord", report.run_dir + "/coord", stdfs::copy_options::recursive, ec);
    }
    if (mounted) UnmountPrivate(work);
    stdfs::remove_all(work, ec);
  }
  containment.End();

  // Measurements, after the whole trace (docs/determinism.md).
  resources.Close();
  for (const ResourceSample& sample : resources.samples()) {
    for (Checker& c : checkers) c.impl->ObserveResources(sample);
  }

  nlohmann::json invariants = nlohmann::json::array();
  bool violated = false;
  std::string violations_text;
  std::string summaries_text;  // what checkers with a summary counted
  for (Checker& c : checkers) {
    std::vector<Violation> found;
    c.impl->Finish(&found);
    nlohmann::json vs = nlohmann::json::array();
    for (const Violation& v : found) {
      vs.push_back({{"message", v.message}, {"evidence", v.evidence}});
      std::string seqs;
      for (size_t i = 0; i < v.evidence.size() && i < 6; ++i) {
        seqs += fmt::format("{}{}", i ? ", " : "", v.evidence[i]);
      }
      violations_text += fmt::format("  {}: {}{}\n", c.name, v.message,
                                     seqs.empty() ? "" : " (trace seq " + seqs + ")");
    }
    violated = violated || !found.empty();
    nlohmann::json entry = {{"name", c.name}, {"ok", found.empty()}, {"violations", vs}};
    if (nlohmann::json summary = c.impl->Summary(); !summary.is_null()) {
      entry["summary"] = summary;
      summaries_text += fmt::format("  {}: {}\n", c.name, c.impl->SummaryText());
    }
    invariants.push_back(std::move(entry));
  }
  nlohmann::json faults = nlohmann::json::array();
  bool vacuous = false;
  std::string fault_text;
  bool fault_vacuous = false;
  for (const FaultRecord& f : r.faults) {
    fault_vacuous = fault_vacuous || f.landed == 0;
    vacuous = fault_vacuous;
    faults.push_back({{"kind", f.kind}, {"index", f.index}, {"landed", f.landed > 0},
                      {"times", f.landed}, {"first", f.first}});
    fault_text += fmt::format("{}{} x{}", fault_text.empty() ? "" : ", ", f.kind, f.landed);
  }

  // Probes met, and the scenario's expectations of them (docs/protocol.md).
  nlohmann::json probes = nlohmann::json::object();
  for (const auto& [name, count] : r.probes) {
    probes[name] = {{"reached", count.reached}, {"hits", count.hits}};
  }
  const nlohmann::json unmet = UnmetExpectations(s, r.probes);
  vacuous = vacuous || !unmet.empty();

  const bool harness = r.end == EngineResult::End::kHarnessError;
  const bool interrupted = r.end == EngineResult::End::kInterrupted;
  report.exit_code = interrupted ? kExitInterrupted
                     : harness   ? kExitHarness
                     : violated  ? kExitViolation
                                 : kExitPass;
  report.verdict = {
      {"scenario", s.name},
      {"seed", s.seed},
      {"mode", s.mode == Mode::kLockstep ? "lockstep" : "freerun"},
      // null: the reference coordinator; else the external SUT's label.
      {"sut", s.sut.is_null() ? nlohmann::json() : nlohmann::json(suts.Label(s.sut))},
      {"interleave", s.sut.is_object() && s.sut.value("observe", "") == "adapter"
                         ? nlohmann::json(s.sut.value("interleave", std::string("commands")))
                         : nlohmann::json()},
      {"ok", report.exit_code == kExitPass},
      {"end", Name(r.end)},
      {"error", r.error},
      {"trace_sha256", r.trace_sha256},
      {"invariants", invariants},
      {"not_applicable", not_applicable},
      {"faults", faults},
      {"vacuous", vacuous},
      {"probes", probes},
      {"expect_unmet", unmet},
      {"stats",
       {{"events", r.events},
        {"steps", r.steps},
        {"sim_ms", r.sim_us / 1000},
        {"wall_ms", r.wall_us / 1000},
        {"startup_ms", r.started_us / 1000},
        {"loop_ms", r.loop_wall_us / 1000},
        {"kills", r.kills},
        {"agents", s.agents},
        {"items", s.items}}},
      {"reproduce", reproduce},
  };
  if (!s.differential.is_null()) {
    report.verdict["differential"] = CounterpartVerdict(s, suts, counterpart);
  }
  // A run of a planted defect (tests/mutants/) is detection evidence, not
  // evidence about the product: the report keeps the two apart.
  if (const char* mutant = std::getenv("SWARM_MUTANT");
      mutant != nullptr && *mutant != '\0' && s.sut.is_null() &&
      stdfs::path(o.swarm_bin).filename() == "swarm-mutant") {
    report.verdict["mutant"] = mutant;
  }
  std::ofstream verdict_out(report.run_dir + "/verdict.json");
  verdict_out << report.verdict.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  verdict_out.close();
  if (!trace.complete() || !verdict_out) {
    // A verdict nobody can read back is no verdict: never exit 0 on it.
    report.exit_code = kExitHarness;
    report.summary = fmt::format("cannot write the run directory {} completely (disk full?)\n",
                                 report.run_dir);
    return report;
  }

  const char* outcome = interrupted ? "INTERRUPTED"
                        : harness   ? "HARNESS ERROR"
                        : violated  ? "VIOLATION"
                                    : "ok";
  // Which interleaving an adapter-observed SUT ran with (docs/external-sut.md).
  std::string mode = s.mode == Mode::kLockstep ? "lockstep" : "freerun";
  if (s.mode == Mode::kLockstep && s.sut.is_object() && s.sut.value("observe", "") == "adapter") {
    mode += ", interleave " + s.sut.value("interleave", std::string("commands"));
  }
  report.summary = fmt::format(
      "{} (seed {}, {}): {} — {} invariants checked{}; faults: {}{}; {} items, {} agents, {} "
      "events, {} {}, {} wall\n",
      s.name, s.seed, mode, outcome,
      checkers.size(),
      // The reference never runs the SUT-only checkers; only a SUT's list says something.
      not_applicable_names.empty() || s.sut.is_null()
          ? ""
          : " (not applicable: " + not_applicable_names + ")",
      fault_text.empty() ? "none" : fault_text,
      VacuityText(fault_vacuous, unmet), s.items, s.agents, r.events,
      s.mode == Mode::kLockstep ? "sim" : "run", Seconds(r.sim_us), Seconds(r.wall_us));
  if (harness) report.summary += "  harness error: " + r.error + "\n";
  if (!containment.warning().empty()) {
    report.summary += "  WARNING: " + containment.warning() + "\n";
  }
  if (r.end == EngineResult::End::kSimLimit || r.end == EngineResult::End::kWallLimit) {
    report.summary += fmt::format("  the run hit its {} limit\n", Name(r.end));
  }
  if (r.end == EngineResult::End::kLivelock) {
    report.summary += fmt::format(
        "  the run was stopped as a livelock: {} steps without simulated time advancing "
        "(limits.livelock_steps)\n",
        s.livelock_steps);
  }
  if (!s.differential.is_null()) {
    const nlohmann::json& d = report.verdict["differential"];
    report.summary += fmt::format(
        "  differential: the same run against {}: {}{}, {} wall\n", d["against"].get<std::string>(),
        d["ok"].get<bool>() ? "ok" : "its own invariants were violated (see its verdict.json)",
        d["vacuous"].get<bool>() ? " (a fault never fired there)" : "",
        Seconds(d["wall_ms"].get<int64_t>() * 1000));
  }
  report.summary += summaries_text;
  report.summary += violations_text;
  report.summary += fmt::format("  trace_sha256 {}\n  run directory {}\n", r.trace_sha256,
                                report.run_dir);
  report.summary += "reproduce: " + reproduce + "\n";
  return report;
}

}  // namespace faultline
