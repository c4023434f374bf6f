// The resource checkers (bounded_memory, bounded_monitor_cost) over fixed
// samples, pass and fail; and the measurement itself (ReadUsage, the exit
// figures of ProcessSet) on real processes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "sim/invariants/bounded_memory.h"
#include "sim/invariants/bounded_monitor_cost.h"
#include "sim/process_set.h"
#include "sim/resource_log.h"

namespace faultline {
namespace {

using nlohmann::json;

json RunStart(json slo = json::object(), int64_t reap_interval_ms = 100) {
  return {{"seq", 0},       {"t", 0},
          {"proc", "sim"},  {"type", "run_start"},
          {"mode", "lockstep"}, {"reap_interval_ms", reap_interval_ms},
          {"slo", std::move(slo)}};
}

json RunEnd(uint64_t seq) {
  return {{"seq", seq}, {"t", 1'000'000}, {"proc", "sim"}, {"type", "run_end"}};
}

ResourceSample Sample(const char* proc, const char* role, int64_t t_ms, int64_t rss_kb,
                      int64_t cpu_us, int64_t sleeps, int start = 1) {
  ResourceSample s;
  s.proc = proc;
  s.role = role;
  s.start = start;
  s.t = t_ms * 1000;
  s.rss_kb = rss_kb;
  s.cpu_us = cpu_us;
  s.sleeps = sleeps;
  return s;
}

template <typename Checker>
std::vector<Violation> Check(const std::vector<json>& events,
                             const std::vector<ResourceSample>& samples, Checker* checker) {
  for (const json& e : events) checker->Observe(TraceEvent::FromJson(e));
  for (const ResourceSample& s : samples) checker->ObserveResources(s);
  std::vector<Violation> out;
  checker->Finish(&out);
  for (const Violation& v : out) EXPECT_EQ(v.invariant, Checker::kName);
  return out;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// `n` samples of an agent whose resident set starts at 5000 KB and grows by
// `kb_per_sample`.
std::vector<ResourceSample> AgentSeries(const char* proc, int n, int64_t kb_per_sample,
                                        int start = 1, int64_t base_kb = 5000) {
  std::vector<ResourceSample> samples;
  for (int i = 0; i < n; ++i) {
    samples.push_back(Sample(proc, "agent", i * 100, base_kb + i * kb_per_sample, i * 500, i + 1,
                             start));
  }
  return samples;
}

// ---------------------------------------------------------------------------
// bounded_memory

TEST(BoundedMemoryTest, AFlatResidentSetHolds) {
  std::vector<ResourceSample> samples = AgentSeries("a0", 40, 0);
  samples[5].rss_kb += 300;  // a warm-up peak, given back later: not growth
  BoundedMemory checker;
  EXPECT_TRUE(Check({RunStart(), RunEnd(1)}, samples, &checker).empty());
  EXPECT_TRUE(Contains(checker.SummaryText(), "1 processes judged")) << checker.SummaryText();
  EXPECT_EQ(checker.Summary()["processes"][0]["growth_kb"], -300);
}

TEST(BoundedMemoryTest, SteadyGrowthAboveTheLimitIsAViolationNamingTheFigures) {
  std::vector<json> events = {RunStart({{"max_rss_growth_kb", 1024}})};
  for (uint64_t i = 1; i <= 2000; ++i) {
    events.push_back({{"seq", i}, {"t", 0}, {"proc", "a1"}, {"type", "span_created"},
                      {"agent", "a1"}, {"span", "s"}});
  }
  events.push_back(RunEnd(2001));
  // 40 samples growing 100 KB each: early peak 5900 KB, last 8900 KB.
  std::vector<ResourceSample> samples = AgentSeries("a0", 40, 0);
  for (const ResourceSample& s : AgentSeries("a1", 40, 100)) samples.push_back(s);
  BoundedMemory checker;
  std::vector<Violation> out = Check(events, samples, &checker);
  ASSERT_EQ(out.size(), 1u);
  const std::string& m = out[0].message;
  EXPECT_TRUE(Contains(m, "a1 (agent)")) << m;
  EXPECT_TRUE(Contains(m, "from 5900 KB")) << m;
  EXPECT_TRUE(Contains(m, "to 8900 KB")) << m;
  EXPECT_TRUE(Contains(m, "3000 KB more")) << m;
  EXPECT_TRUE(Contains(m, "limit of 1024 KB")) << m;
  EXPECT_TRUE(Contains(m, "1536 bytes per span of the 2000")) << m;
  EXPECT_EQ(out[0].evidence, std::vector<uint64_t>{2001});
  EXPECT_TRUE(Contains(checker.SummaryText(), "3000 KB (a1")) << checker.SummaryText();
}

TEST(BoundedMemoryTest, SamplesBeforeTheFirstEventAreStartUpNotWarmUp) {
  // Stopped right after exec (16 KB) until 1 s, then at its working size:
  // the load of its libraries after it was let go is not growth.
  std::vector<ResourceSample> samples = AgentSeries("a0", 40, 0, 1, 9000);
  for (int i = 0; i < 10; ++i) samples[i].rss_kb = 16;
  std::vector<json> events = {
      RunStart({{"max_rss_growth_kb", 1024}}),
      {{"seq", 1}, {"t", 1000000}, {"proc", "a0"}, {"type", "register"}, {"agent", "a0"}},
      RunEnd(2)};
  BoundedMemory checker;
  EXPECT_TRUE(Check(events, samples, &checker).empty()) << checker.SummaryText();
  EXPECT_EQ(checker.Summary()["processes"][0]["warm_up_kb"], 9000);
  EXPECT_EQ(checker.Summary()["processes"][0]["samples"], 30);

  // Growth after its first event is still growth.
  for (int i = 10; i < 40; ++i) samples[i].rss_kb = 9000 + (i - 10) * 100;
  BoundedMemory grown;
  const std::vector<Violation> out = Check(events, samples, &grown);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(Contains(out[0].message, "from 9700 KB")) << out[0].message;
}

TEST(BoundedMemoryTest, TheSloSetsTheLimit) {
  const std::vector<ResourceSample> samples = AgentSeries("a0", 40, 100);  // +3000 KB
  BoundedMemory within;
  EXPECT_TRUE(Check({RunStart({{"max_rss_growth_kb", 3000}}), RunEnd(1)}, samples, &within)
                  .empty());
  BoundedMemory beyond;
  EXPECT_EQ(Check({RunStart({{"max_rss_growth_kb", 2999}}), RunEnd(1)}, samples, &beyond).size(),
            1u);
  BoundedMemory by_default;  // 4096 KB
  EXPECT_TRUE(Check({RunStart(), RunEnd(1)}, samples, &by_default).empty());
}

TEST(BoundedMemoryTest, TooFewSamplesGiveNoVerdict) {
  BoundedMemory checker;
  EXPECT_TRUE(Check({RunStart({{"max_rss_growth_kb", 1}}), RunEnd(1)},
                    AgentSeries("a0", static_cast<int>(BoundedMemory::kMinSamples) - 1, 1000),
                    &checker)
                  .empty());
  EXPECT_TRUE(Contains(checker.SummaryText(), "none long enough")) << checker.SummaryText();
}

TEST(BoundedMemoryTest, EachIncarnationIsJudgedOnItsOwn) {
  // A restart that comes back bigger is not growth of one process.
  std::vector<ResourceSample> samples = AgentSeries("a0", 20, 0, 1, 5000);
  for (const ResourceSample& s : AgentSeries("a0", 20, 0, 2, 9000)) samples.push_back(s);
  BoundedMemory checker;
  EXPECT_TRUE(Check({RunStart({{"max_rss_growth_kb", 100}}), RunEnd(1)}, samples, &checker)
                  .empty());
  EXPECT_EQ(checker.Summary()["processes"].size(), 2u);
}

TEST(BoundedMemoryTest, UnreadableSamplesAreSkipped) {
  std::vector<ResourceSample> samples = AgentSeries("a0", 20, 0);
  samples.back().rss_kb = -1;  // the process was gone when read
  BoundedMemory checker;
  EXPECT_TRUE(Check({RunStart({{"max_rss_growth_kb", 0}}), RunEnd(1)}, samples, &checker)
                  .empty());
}

// ---------------------------------------------------------------------------
// bounded_monitor_cost

// A reaper sampled at each sleep: pass k costs cost(k) µs.
template <typename Cost>
std::vector<ResourceSample> ReaperSeries(int passes, Cost cost, int64_t kb_per_pass = 0) {
  std::vector<ResourceSample> samples;
  int64_t cpu = 5000;  // start-up
  for (int k = 1; k <= passes; ++k) {
    cpu += cost(k);
    samples.push_back(Sample("reaper", "reaper", k * 100, 4500 + k * kb_per_pass, cpu, k));
  }
  return samples;
}

TEST(BoundedMonitorCostTest, AConstantCostPerPassHolds) {
  // Noisy but flat: 200..299 µs.
  auto samples = ReaperSeries(100, [](int k) { return 200 + (k * 37) % 100; });
  BoundedMonitorCost checker;
  EXPECT_TRUE(Check({RunStart(), RunEnd(1)}, samples, &checker).empty());
  const json summary = checker.Summary();
  EXPECT_EQ(summary["monitors"][0]["passes"], 98);  // the first cost is start-up
  EXPECT_TRUE(Contains(checker.SummaryText(), "reaper: 98 passes")) << checker.SummaryText();
}

TEST(BoundedMonitorCostTest, ACostThatGrowsWithThePassesIsAViolation) {
  auto samples = ReaperSeries(100, [](int k) { return 200 + 20 * k; });
  BoundedMonitorCost checker;
  std::vector<Violation> out = Check({RunStart(), RunEnd(7)}, samples, &checker);
  ASSERT_EQ(out.size(), 1u);
  const std::string& m = out[0].message;
  EXPECT_TRUE(Contains(m, "the monitor reaper costs more at every pass")) << m;
  // Costs of passes 3..100 (pass 2's is left out); quarters of 24, whose
  // (lower) medians are passes 14 and 88.
  EXPECT_TRUE(Contains(m, "1960 µs of CPU per pass late")) << m;
  EXPECT_TRUE(Contains(m, "against 480 µs early")) << m;
  EXPECT_TRUE(Contains(m, "300% + 300 µs = 1740 µs is allowed")) << m;
  EXPECT_EQ(out[0].evidence, std::vector<uint64_t>{7});
}

TEST(BoundedMonitorCostTest, TheSloSetsTheGrowthAndTheCeiling) {
  auto growing = ReaperSeries(100, [](int k) { return 200 + 20 * k; });
  BoundedMonitorCost lenient;
  EXPECT_TRUE(Check({RunStart({{"max_monitor_cpu_growth_percent", 400}}), RunEnd(1)}, growing,
                    &lenient)
                  .empty());
  auto expensive = ReaperSeries(40, [](int) { return 30'000; });
  BoundedMonitorCost by_default;  // at most 20000 µs per pass
  std::vector<Violation> out = Check({RunStart(), RunEnd(1)}, expensive, &by_default);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(Contains(out[0].message, "30000 µs of CPU per pass")) << out[0].message;
  EXPECT_TRUE(Contains(out[0].message, "limit of 20000 µs")) << out[0].message;
  BoundedMonitorCost raised;
  EXPECT_TRUE(Check({RunStart({{"max_monitor_cpu_us_per_scan", 30'000}}), RunEnd(1)}, expensive,
                    &raised)
                  .empty());
}

TEST(BoundedMonitorCostTest, AMonitorThatKeepsGrowingInMemoryIsAViolation) {
  auto samples = ReaperSeries(40, [](int) { return 300; }, 100);  // +100 KB per pass
  BoundedMonitorCost checker;
  std::vector<Violation> out =
      Check({RunStart({{"max_monitor_rss_growth_kb", 1000}}), RunEnd(1)}, samples, &checker);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(Contains(out[0].message, "the monitor reaper kept growing")) << out[0].message;
  EXPECT_TRUE(Contains(out[0].message, "limit of 1000 KB")) << out[0].message;
}

TEST(BoundedMonitorCostTest, FreerunCostIsPerReapIntervalOfTime) {
  // Sampled every 50 ms while running, one pass due per 100 ms: 150 µs of CPU
  // per sample is 300 µs per pass, then growing.
  std::vector<ResourceSample> flat, growing;
  int64_t cpu_flat = 0, cpu_growing = 0;
  for (int i = 1; i <= 80; ++i) {
    cpu_flat += 150;
    cpu_growing += 150 + 40 * i;
    flat.push_back(Sample("reaper", "reaper", i * 50, 4500, cpu_flat, -1));
    growing.push_back(Sample("reaper", "reaper", i * 50, 4500, cpu_growing, -1));
  }
  BoundedMonitorCost ok;
  EXPECT_TRUE(Check({RunStart(json::object(), 100), RunEnd(1)}, flat, &ok).empty());
  EXPECT_EQ(ok.Summary()["monitors"][0]["late_cpu_us_per_pass"], 300);
  BoundedMonitorCost caught;
  EXPECT_EQ(Check({RunStart(json::object(), 100), RunEnd(1)}, growing, &caught).size(), 1u);
}

TEST(BoundedMonitorCostTest, AgentsAreNotTheMonitorAndShortRunsAreNotJudged) {
  std::vector<ResourceSample> samples;
  for (int k = 1; k <= 100; ++k) {
    samples.push_back(Sample("a0", "agent", k * 100, 5000, k * k * 100, k));
  }
  auto short_reaper = ReaperSeries(static_cast<int>(BoundedMonitorCost::kMinPasses),
                                   [](int k) { return 100 * k; });
  samples.insert(samples.end(), short_reaper.begin(), short_reaper.end());
  BoundedMonitorCost checker;
  EXPECT_TRUE(Check({RunStart(), RunEnd(1)}, samples, &checker).empty());
  EXPECT_TRUE(Contains(checker.SummaryText(), "none with 16 passes")) << checker.SummaryText();
}

// ---------------------------------------------------------------------------
// measurement

TEST(ReadUsageTest, SeesAChildsResidentMemoryAndCpu) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  constexpr size_t kBytes = 64 << 20;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    volatile char* block = static_cast<volatile char*>(malloc(kBytes));
    for (size_t i = 0; i < kBytes; i += 1024) block[i] = 1;  // touched: resident
    (void)!write(ready[1], "x", 1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  const Usage usage = ReadUsage(pid);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_GE(usage.rss_kb, static_cast<int64_t>(kBytes / 1024));
  EXPECT_GT(usage.cpu_us, 0);  // touching 64 MB takes CPU
  const Usage gone = ReadUsage(pid);
  EXPECT_EQ(gone.rss_kb, -1);
}

TEST(ProcessSetUsageTest, TheExitStatusCarriesTheKernelsFinalFigures) {
  ProcessSet set;
  SpawnSpec spec;
  spec.id = "busy";
  spec.argv = {"/bin/sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"};
  spec.control_channel = false;
  auto child = set.Spawn(spec);
  ASSERT_TRUE(child.ok()) << child.status().message();
  const ExitStatus st = set.Wait(child->pid);
  EXPECT_TRUE(st.exited);
  EXPECT_GT(st.max_rss_kb, 0);
  EXPECT_GT(st.user_us + st.sys_us, 0);
}

TEST(ResourceLogTest, WritesOneJsonLinePerSampleAndKeepsThem) {
  char path[] = "/tmp/resource-log-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    ResourceLog log(path);
    log.Add(Sample("a0", "agent", 100, 5000, 1234, 3));
    ResourceSample exit = Sample("a0", "agent", 200, -1, 2000, -1);
    exit.kind = ResourceSample::Kind::kExit;
    exit.max_rss_kb = 6000;
    log.Add(exit);
    EXPECT_EQ(log.samples().size(), 2u);
    EXPECT_TRUE(log.Close());
  }
  FILE* in = fopen(path, "r");
  ASSERT_NE(in, nullptr);
  char line[512];
  std::vector<ResourceSample> back;
  while (fgets(line, sizeof line, in)) back.push_back(ResourceSample::FromJson(json::parse(line)));
  fclose(in);
  unlink(path);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].rss_kb, 5000);
  EXPECT_EQ(back[0].sleeps, 3);
  EXPECT_EQ(back[0].t, 100'000);
  EXPECT_EQ(back[1].kind, ResourceSample::Kind::kExit);
  EXPECT_EQ(back[1].max_rss_kb, 6000);
  EXPECT_EQ(back[1].cpu_us, 2000);
}

}  // namespace
}  // namespace faultline
