// Unit tests of the external-SUT library (sim/sut/): command templates, the
// "sut" block's validation (every mistake names its JSON pointer), running a
// command under a timeout (real processes: hangs, signals, leftovers, output
// to end of file), and the history projection of `faultline diff`.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "sim/invariants/registry.h"
#include "sim/invariants/sut_responsive.h"
#include "sim/scenario.h"
#include "sim/sut/command.h"
#include "sim/sut/external_sut.h"
#include "sim/history_diff.h"
#include "sim/sut/sut_spec.h"
#include "sim/sut/systems.h"
#include "sim/sut/template.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace faultline::sut {
namespace {

using nlohmann::json;

// --- templates --------------------------------------------------------------

TEST(TemplateTest, ReplacesPlaceholdersAndLeavesShellSyntaxAlone) {
  Values v = {{"dir", "/tmp/q"}, {"agent", "a1"}};
  EXPECT_EQ(Expand("{dir}/locks/{agent}.lock", v, false), "/tmp/q/locks/a1.lock");
  EXPECT_EQ(Expand("${HOME} {{dir}} {1..3} {a,b} {unknown}", v, false),
            "${HOME} {dir} {1..3} {a,b} ");
  EXPECT_EQ(Placeholders("x {dir} ${y} {agent}{dir}"),
            (std::vector<std::string>{"dir", "agent", "dir"}));
}

TEST(TemplateTest, ShellCommandLinesQuoteEveryValue) {
  Values v = {{"item", "it's; rm -rf /"}};
  std::vector<std::string> argv = ExpandCommand(json("echo {item}"), v);
  ASSERT_EQ(argv.size(), 3u);
  EXPECT_EQ(argv[0], "/bin/sh");
  EXPECT_EQ(argv[2], "echo 'it'\\''s; rm -rf /'");
  // An argv array takes values as they are: one word each.
  EXPECT_EQ(ExpandCommand(json::array({"echo", "{item}"}), v)[1], "it's; rm -rf /");
}

TEST(TemplateTest, ShellBracesAndLiteralBracesAreNoMisspeltPlaceholders) {
  const std::vector<std::string> known = {"dir", "items"};
  for (const char* ok : {"{1..3}", "{a,b}", "${DIR}", "{{dir}}", "{ echo; }", "{dir,x}",
                         "a {b} c", "(a+)"}) {
    EXPECT_EQ(CheckPlaceholders(ok, {"dir", "items", "b"}), "") << ok;
  }
  EXPECT_NE(CheckPlaceholders("{Dir}", known), "");
  EXPECT_NE(CheckPlaceholders("x {dir", known), "");
  EXPECT_NE(CheckPlaceholders("{ items}", known), "");
}

TEST(TemplateTest, CheckCommandNamesTheBadWord) {
  std::string where;
  EXPECT_EQ(CheckCommand(json::array({"./q", "{dir}"}), {"dir"}, &where), "");
  EXPECT_NE(CheckCommand(json::array({"./q", "{dri}"}), {"dir"}, &where).find("{dri}"),
            std::string::npos);
  EXPECT_EQ(where, "/1");
  EXPECT_NE(CheckCommand(json::array({"./q", 3}), {"dir"}, &where), "");
  EXPECT_EQ(where, "/1");
  EXPECT_NE(CheckCommand(json::array(), {"dir"}, &where), "");
  EXPECT_NE(CheckCommand(json(""), {"dir"}, &where), "");
}

// --- the "sut" block --------------------------------------------------------

json AdapterBlock() {
  return json::parse(R"J({
    "observe": "adapter",
    "submit": ["./q", "submit", "{dir}", "{items}"],
    "adapter": {
      "claim": {"run": ["./q", "claim", "{dir}", "{agent}"], "item": "^claimed (\\S+)"},
      "complete": ["./q", "complete", "{dir}", "{agent}", "{item}", "{token}"]
    }
  })J");
}

std::optional<SutProblem> Check(const json& block) { return CheckSut(block, true, 10'000); }

TEST(SutSpecTest, AcceptsAMinimalAdapterAndProtocolBlock) {
  EXPECT_FALSE(Check(AdapterBlock()));
  json protocol = json::parse(R"({"observe": "protocol", "submit": "./a submit {dir} {items}",
                                  "agent": ["./a", "agent", "{dir}", "{agent}", "{seed}"]})");
  EXPECT_FALSE(Check(protocol));
  SutSpec s = ParseSut(AdapterBlock());
  EXPECT_EQ(s.observe, Observe::kAdapter);
  ASSERT_TRUE(s.adapter.claim.has_value());
  EXPECT_EQ(s.adapter.claim->item, "^claimed (\\S+)");
  EXPECT_EQ(s.adapter.complete->ok_exit, std::vector<int>{0});
  EXPECT_FALSE(s.adapter.progress.has_value());
}

struct BadBlock {
  std::string name;
  std::function<void(json&)> mutate;
  std::string pointer;
  std::string says;
};

TEST(SutSpecTest, EveryMistakeNamesItsPointer) {
  const std::vector<BadBlock> cases = {
      {"unknown key", [](json& b) { b["agnet"] = 1; }, "/agnet", "unknown key"},
      {"no observe", [](json& b) { b.erase("observe"); }, "", "missing \"observe\""},
      {"bad observe", [](json& b) { b["observe"] = "watch"; }, "/observe", "\"protocol\""},
      {"no submit", [](json& b) { b.erase("submit"); }, "", "missing \"submit\""},
      {"submit without count", [](json& b) { b["submit"] = {"./q", "submit", "{dir}"}; },
       "/submit", "neither {items}"},
      {"unknown placeholder", [](json& b) { b["adapter"]["complete"][4] = "{itme}"; },
       "/adapter/complete/4", "{itme}"},
      {"item not in claim", [](json& b) { b["adapter"]["claim"]["run"][2] = "{item}"; },
       "/adapter/claim/run/2", "{item}"},
      {"no item pattern", [](json& b) { b["adapter"]["claim"].erase("item"); },
       "/adapter/claim", "missing \"item\""},
      {"item pattern without group", [](json& b) { b["adapter"]["claim"]["item"] = "claimed"; },
       "/adapter/claim/item", "no group"},
      {"bad regex", [](json& b) { b["adapter"]["claim"]["item"] = "(oops"; },
       "/adapter/claim/item", "not a valid regular expression"},
      {"bad exit code", [](json& b) { b["adapter"]["claim"]["ok_exit"] = 300; },
       "/adapter/claim/ok_exit", "exit code"},
      {"no complete", [](json& b) { b["adapter"].erase("complete"); }, "/adapter",
       "missing \"complete\""},
      {"agent with adapter", [](json& b) { b["agent"] = {"./a"}; }, "/agent", "protocol"},
      {"timeout over watchdog", [](json& b) { b["timeout_ms"] = 20'000; }, "/timeout_ms",
       "step_timeout_ms"},
      {"op timeout over watchdog", [](json& b) { b["adapter"]["claim"]["timeout_ms"] = 10'000; },
       "/adapter/claim/timeout_ms", "step_timeout_ms"},
      {"bad env", [](json& b) { b["env"] = {{"X", 1}}; }, "/env/X", "string"},
      {"ctl fd in env", [](json& b) { b["env"] = {{"FAULTLINE_CTL_FD", "4"}}; },
       "/env/FAULTLINE_CTL_FD", "harness"},
      {"absolute glob", [](json& b) { b["state"] = {{"locks", {"/etc/*"}}}; }, "/state/locks/0",
       "relative"},
      {"bad status map", [](json& b) { b["state"] = {{"status_map", {{"ok", "finished"}}}}; },
       "/state/status_map/ok", "done"},
      {"dump with item", [](json& b) { b["state"] = {{"dump", {"./q", "{item}"}}}; },
       "/state/dump/1", "{item}"},
      // Misspelt placeholders are errors, not literal text.
      {"upper-case placeholder", [](json& b) { b["submit"] = {"./q", "{DIR}", "{items}"}; },
       "/submit/1", "\"{DIR}\" is no placeholder: write {dir}"},
      {"spaced placeholder", [](json& b) { b["submit"] = "./q { dir } {items}"; }, "/submit",
       "\"{ dir }\" is no placeholder: write {dir}"},
      {"unclosed placeholder", [](json& b) { b["submit"] = {"./q", "{dir", "{items}"}; },
       "/submit/1", "\"{dir\" is no placeholder"},
      {"unclosed at a slash", [](json& b) { b["submit"] = "./q {dir/x {items}"; }, "/submit",
       "\"{dir\" is no placeholder"},
      {"escaping glob", [](json& b) { b["state"] = {{"locks", {"../../../*"}}}; },
       "/state/locks/0", "leaves the coordination directory"},
      {"escaping glob inside", [](json& b) { b["state"] = {{"json", {"items/../../x"}}}; },
       "/state/json/0", "leaves the coordination directory"},
      {"catastrophic regex", [](json& b) { b["adapter"]["claim"]["item"] = "(a+)+$"; },
       "/adapter/claim/item", "catastrophic backtracking"},
      {"catastrophic regex, star", [](json& b) { b["adapter"]["claim"]["ok_match"] = "((x*)y*)*"; },
       "/adapter/claim/ok_match", "catastrophic backtracking"},
      {"huge regex", [](json& b) { b["adapter"]["claim"]["item"] = "(" + std::string(600, 'a') + ")"; },
       "/adapter/claim/item", "at most 512"},
  };
  for (const BadBlock& c : cases) {
    json block = AdapterBlock();
    c.mutate(block);
    std::optional<SutProblem> p = Check(block);
    ASSERT_TRUE(p.has_value()) << c.name;
    EXPECT_EQ(p->pointer, c.pointer) << c.name << ": " << p->message;
    EXPECT_NE(p->message.find(c.says), std::string::npos) << c.name << ": " << p->message;
  }
}

TEST(SutSpecTest, ProtocolBlocksNeedAnAgentAndNoAdapter) {
  json b = json::parse(R"({"observe": "protocol", "submit": ["./a", "{items}"]})");
  ASSERT_TRUE(Check(b));
  EXPECT_NE(Check(b)->message.find("missing \"agent\""), std::string::npos);
  b["agent"] = {"./a", "{agent}", "{item}"};
  EXPECT_EQ(Check(b)->pointer, "/agent/2");
  b["agent"] = {"./a", "{agent}"};
  b["adapter"] = AdapterBlock()["adapter"];
  EXPECT_EQ(Check(b)->pointer, "/adapter");
}

TEST(SutSpecTest, AnchorMakesTheWorkingDirectoryAbsolute) {
  json b = AdapterBlock();
  AnchorCwd(&b, "/srv/scenarios");
  EXPECT_EQ(b["cwd"], "/srv/scenarios");
  b["cwd"] = "../tools/";
  AnchorCwd(&b, "/srv/scenarios");
  EXPECT_EQ(b["cwd"], "/srv/tools");
  b["cwd"] = "/opt/q";
  AnchorCwd(&b, "/srv/scenarios");
  EXPECT_EQ(b["cwd"], "/opt/q");
}

TEST(SutSpecTest, TheScenarioLoaderPrefixesPointersAndRejectsReferenceOnlyFaults) {
  Catalog catalog;
  catalog.suts = &sut::Systems();
  FaultKind drift;
  drift.name = "config_drift";
  drift.needs = capability::kReferenceTool;
  drift.make = [](const json&) -> std::unique_ptr<Fault> { return nullptr; };
  catalog.faults.push_back(drift);
  json doc = {{"name", "x"}, {"sut", AdapterBlock()}};
  doc["sut"]["adapter"]["claim"]["item"] = "no group";
  Scenario s;
  ScenarioError e;
  ASSERT_FALSE(ParseScenario(doc.dump(), "x.json", catalog, &s, &e));
  EXPECT_EQ(e.pointer, "/sut/adapter/claim/item") << e.ToString();
  doc["sut"] = AdapterBlock();
  doc["faults"] = {{{"kind", "config_drift"}}};
  ASSERT_FALSE(ParseScenario(doc.dump(), "x.json", catalog, &s, &e));
  EXPECT_EQ(e.pointer, "/faults/0/kind") << e.ToString();
  EXPECT_NE(e.message.find("external SUT"), std::string::npos);
  doc.erase("faults");
  doc["limits"] = {{"step_timeout_ms", 3000}};
  ASSERT_FALSE(ParseScenario(doc.dump(), "x.json", catalog, &s, &e));
  EXPECT_EQ(e.pointer, "/sut") << e.ToString();
  doc["mode"] = "freerun";  // no step watchdog in freerun
  ASSERT_TRUE(ParseScenario(doc.dump(), "x.json", catalog, &s, &e)) << e.ToString();
  ResolvedScenario r = Resolve(s, catalog, 1);
  EXPECT_EQ(r.ToJson()["sut"], doc["sut"]);
}

// --- running commands -------------------------------------------------------

Command Sh(const std::string& script, int64_t timeout_ms = 5000) {
  Command c;
  c.argv = {"/bin/sh", "-c", script};
  c.timeout_ms = timeout_ms;
  return c;
}

// True if a process whose command line contains `marker` is running.
bool Running(const std::string& marker) {
  DIR* proc = opendir("/proc");
  bool found = false;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const std::string base = std::string("/proc/") + e->d_name;
    const std::string cmdline = testing::ReadAll(base + "/cmdline");
    const bool zombie = testing::ReadAll(base + "/stat").find(") Z ") != std::string::npos;
    if (!zombie && cmdline.find(marker) != std::string::npos) found = true;
  }
  closedir(proc);
  return found;
}

// SIGKILL takes effect when the killed process next runs, on a busy machine a
// moment after kill() returns: wait for it (a hang guard, not a timing test).
bool Gone(const std::string& marker) {
  for (int i = 0; i < 500 && Running(marker); ++i) usleep(10'000);
  return !Running(marker);
}

TEST(CommandTest, ReportsExitCodeOutputAndEnvironment) {
  Command c = Sh("echo out; echo err >&2; echo \"$X/$FAULTLINE_CTL_FD\"; exit 7");
  c.env = {{"X", "one"}, {"X", "two"}};
  setenv("FAULTLINE_CTL_FD", "9", 1);
  CommandResult r = RunCommand(c);
  unsetenv("FAULTLINE_CTL_FD");
  EXPECT_EQ(r.end, CommandResult::End::kExited);
  EXPECT_EQ(r.code, 7);
  EXPECT_EQ(r.out, "out\ntwo/\n") << "a later key wins; the control fd is never inherited";
  EXPECT_EQ(r.err, "err\n");
  EXPECT_EQ(r.FirstLine(), "err");
  EXPECT_EQ(r.Describe(5000), "exit 7");
}

TEST(CommandTest, RunsInItsWorkingDirectoryAndFindsProgramsInPath) {
  testing::TempDir tmp;
  Command c;
  c.argv = {"pwd"};
  c.cwd = tmp.path();
  CommandResult r = RunCommand(c);
  EXPECT_TRUE(r.Ok()) << r.Describe(0) << r.err;
  EXPECT_EQ(r.out, tmp.path() + "\n");
  c.argv = {"./no-such-program"};
  r = RunCommand(c);
  EXPECT_EQ(r.end, CommandResult::End::kExited);
  EXPECT_EQ(r.code, 127);
  EXPECT_NE(r.err.find("cannot run ./no-such-program"), std::string::npos) << r.err;
  c.cwd = tmp / "missing";
  c.argv = {"true"};
  r = RunCommand(c);
  EXPECT_EQ(r.code, 127);
  EXPECT_NE(r.err.find("working directory"), std::string::npos) << r.err;
}

TEST(CommandTest, AHungCommandAndEverythingItStartedAreKilledAtTheTimeout) {
  CommandResult r = RunCommand(Sh("echo started; sleep 987601 & sleep 987602; echo never", 300));
  EXPECT_EQ(r.end, CommandResult::End::kTimedOut);
  EXPECT_EQ(r.out, "started\n") << "what it wrote before the timeout is kept";
  EXPECT_EQ(r.Describe(300), "timed out after 300 ms");
  EXPECT_TRUE(Gone("987601"));
  EXPECT_TRUE(Gone("987602"));
}

TEST(CommandTest, WhatACommandLeavesRunningIsKilledWhenItExits) {
  // The background sleep keeps no pipe open, so the command ends at once.
  CommandResult r = RunCommand(Sh("sleep 987603 >/dev/null 2>&1 & echo done", 5000));
  EXPECT_TRUE(r.Ok());
  EXPECT_EQ(r.out, "done\n");
  EXPECT_TRUE(Gone("987603"));
  // One that holds the output open is waited for until the deadline, then killed.
  r = RunCommand(Sh("sleep 987604 & echo done", 300));
  EXPECT_TRUE(r.Ok()) << r.Describe(300);
  EXPECT_NE(r.error.find("left processes"), std::string::npos) << r.error;
  EXPECT_TRUE(Gone("987604"));
}

TEST(CommandTest, ReadsLargeOutputToTheEndAndReportsSignals) {
  CommandResult r = RunCommand(Sh("head -c 3000000 /dev/zero; echo tail >&2"));
  EXPECT_TRUE(r.Ok());
  EXPECT_EQ(r.out.size(), size_t{1} << 20) << "kept up to the cap";
  EXPECT_EQ(r.err, "tail\n") << "and read on to the end";
  EXPECT_NE(r.error.find("dropped"), std::string::npos);
  r = RunCommand(Sh("kill -SEGV $$"));
  EXPECT_EQ(r.end, CommandResult::End::kSignaled);
  EXPECT_EQ(r.signal, SIGSEGV);
  EXPECT_EQ(r.Describe(0), "killed by SIGSEGV");
}

TEST(CommandTest, TheCommandDiesWithItsCaller) {
  // A caller killed mid-command takes the command's group with it.
  pid_t caller = fork();
  if (caller == 0) {
    RunCommand(Sh("sleep 987605 & sleep 987606", 60'000));
    _exit(0);
  }
  for (int i = 0; i < 500 && !Running("987606"); ++i) usleep(10'000);
  ASSERT_TRUE(Running("987606"));
  kill(caller, SIGKILL);
  waitpid(caller, nullptr, 0);
  EXPECT_TRUE(Gone("987605"));
  EXPECT_TRUE(Gone("987606"));
}

// --- sut_responsive ---------------------------------------------------------

TEST(SutResponsiveTest, EveryFailedCommandIsOneViolationNamingItsOperation) {
  SutResponsive checker;
  auto event = [](uint64_t seq, json fields) {
    fields["seq"] = seq;
    fields["t"] = 1'500'000;
    return TraceEvent::FromJson(std::move(fields));
  };
  checker.Observe(event(0, {{"type", "claim_ok"}, {"item", "w1"}, {"agent", "a0"}}));
  checker.Observe(event(1, {{"type", "sut_command_failed"}, {"proc", "a1"}, {"agent", "a1"},
                            {"op", "complete"}, {"item", "w1"}, {"failure", "timeout"},
                            {"how", "timed out after 500 ms"}, {"first_line", "waiting"}}));
  checker.Observe(event(2, {{"type", "sut_command_failed"}, {"proc", "sim"}, {"op", "dump"},
                            {"failure", "signal"}, {"how", "killed by SIGSEGV"}}));
  std::vector<Violation> found;
  checker.Finish(&found);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].message,
            "the SUT's complete command for w1 run by a1 at 1.500 s timed out after 500 ms (it "
            "said: waiting)");
  EXPECT_EQ(found[0].evidence, std::vector<uint64_t>{1});
  EXPECT_EQ(found[1].message, "the SUT's dump command run by sim at 1.500 s killed by SIGSEGV");
}

TEST(SutResponsiveTest, AppliesOnlyToExternalSuts) {
  const InvariantKind* kind = nullptr;
  std::vector<InvariantKind> all = CoreInvariants();
  for (const InvariantKind& k : all) {
    if (std::string(k.name) == "sut_responsive") kind = &k;
  }
  ASSERT_NE(kind, nullptr);
  EXPECT_NE(kind->needs & ~observes::kReference, 0u) << "never run for the reference";
  json block = AdapterBlock();
  EXPECT_EQ(kind->needs & ~Observations(ParseSut(block)), 0u);
  // Without a dump, the final state is unknown: no_lost_work cannot judge.
  for (const InvariantKind& k : all) {
    if (std::string(k.name) != "no_lost_work") continue;
    const unsigned missing = k.needs & ~Observations(ParseSut(block));
    EXPECT_NE(missing, 0u);
    EXPECT_NE(MissingObservations(missing).find("dump"), std::string::npos);
    block["state"] = {{"dump", {"./q", "dump", "{dir}"}}};
    EXPECT_EQ(k.needs & ~Observations(ParseSut(block)), 0u);
  }
}

// --- diff -------------------------------------------------------------------

std::vector<ProjectedOp> Project(const std::string& lines) {
  std::istringstream in(lines);
  return ProjectHistory(in);
}

const char* kTraceA = R"({"seq":0,"t":0,"type":"run_start"}
{"seq":1,"t":5,"type":"claim_ok","item":"w1","agent":"a0","token":1}
{"seq":2,"t":6,"type":"renew_ok","item":"w1","agent":"a0","token":1}
{"seq":3,"t":7,"type":"claim_ok","item":"w2","agent":"a1","token":2}
{"seq":4,"t":8,"type":"effect","item":"w1","agent":"a0","token":1}
{"seq":5,"t":9,"type":"complete_ok","item":"w1","agent":"a0","token":1}
{"seq":6,"t":9,"type":"effect","item":"w2","agent":"a1","token":2}
{"seq":7,"t":9,"type":"complete_ok","item":"w2","agent":"a1","token":2}
{"seq":8,"t":10,"type":"run_end","items":[{"id":"w2","status":"done"},{"id":"w1","status":"done"}]}
)";

TEST(HistoryDiffTest, ProjectsOutcomesPerItemAndIgnoresAgentsTokensAndRenewals) {
  std::vector<ProjectedOp> a = Project(kTraceA);
  ASSERT_EQ(a.size(), 8u);
  EXPECT_EQ(a[0].op, "claim");
  EXPECT_EQ(a[6].item, "w1") << "end states last, in item order";
  EXPECT_EQ(a[6].op, "end");
  // Other agents, other tokens, another interleaving, no renewal: the same.
  std::string b = R"({"seq":0,"type":"claim_ok","item":"w2","agent":"a3","token":77}
{"seq":1,"type":"effect","item":"w2","agent":"a3","token":77}
{"seq":2,"type":"complete_ok","item":"w2","agent":"a3","token":77}
{"seq":3,"type":"claim_ok","item":"w1","agent":"a2","token":78}
{"seq":4,"type":"effect","item":"w1","agent":"a2","token":78}
{"seq":5,"type":"complete_ok","item":"w1","agent":"a2","token":78}
{"seq":6,"type":"run_end","items":[{"id":"w1","status":"done"},{"id":"w2","status":"done"}]}
)";
  Divergence d = FirstDivergence(a, Project(b));
  EXPECT_FALSE(d.found);
  EXPECT_EQ(d.agreed, 8u);
  EXPECT_EQ(DescribeDivergence(d, "A", "B"), "no divergence in 8 operations\n");
}

TEST(HistoryDiffTest, FindsTheEarliestDifferingOperation) {
  // B never hands out w2: its claim is missing, and it ends pending.
  std::string b = R"({"seq":0,"type":"claim_ok","item":"w1","agent":"a0","token":1}
{"seq":1,"type":"effect","item":"w1","agent":"a0","token":1}
{"seq":2,"type":"complete_ok","item":"w1","agent":"a0","token":1}
{"seq":3,"type":"run_end","items":[{"id":"w1","status":"done"},{"id":"w2","status":"pending"}]}
)";
  Divergence d = FirstDivergence(Project(kTraceA), Project(b));
  ASSERT_TRUE(d.found);
  EXPECT_EQ(d.item, "w2");
  EXPECT_EQ(d.index, 0u);
  ASSERT_TRUE(d.a && d.b);
  EXPECT_EQ(d.a->op, "claim");
  EXPECT_EQ(d.b->op, "end");
  EXPECT_EQ(d.b->outcome, "pending");
  const std::string text = DescribeDivergence(d, "A", "B");
  EXPECT_NE(text.find("item w2, operation 1"), std::string::npos) << text;
  EXPECT_NE(text.find("claim ok by a1"), std::string::npos) << text;
  EXPECT_NE(text.find("ends pending"), std::string::npos) << text;
  // A second completion in B shows as an operation A does not have.
  std::string twice = std::string(kTraceA);
  twice.insert(twice.rfind("{\"seq\":8"),
               "{\"seq\":20,\"type\":\"effect\",\"item\":\"w1\",\"agent\":\"a2\"}\n");
  d = FirstDivergence(Project(kTraceA), Project(twice));
  ASSERT_TRUE(d.found);
  EXPECT_EQ(d.item, "w1");
  EXPECT_EQ(d.index, 3u);
  EXPECT_EQ(d.a->op, "end");
  EXPECT_EQ(d.b->op, "effect");
}

}  // namespace
}  // namespace faultline::sut
