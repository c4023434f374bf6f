// The reference coordinator, swarm (DESIGN §2), as the engine's system under
// test: everything the harness knows about swarm's coordination directory
// and its program lives here and nowhere else in sim/.
//
//   DIR/cluster.json            settings and their fingerprint
//   DIR/items/<id>.json         one state file per item (status, reason)
//   DIR/agents/<id>.json        one per registered agent
//   DIR/ledger/<id>.json        the protected resource: one effect per item
//   DIR/locks/, tmp/, claims/   lock files, temp files, claim records
//   DIR/spool/<agent>/          unsent spans (seg-*.jsonl, live.jsonl)
//
// Set-up runs `swarm init` (with the run's settings) and `swarm submit`; the
// processes are `swarm reaper DIR` and `swarm agent DIR --id aN ...`, and
// for work arrivals `swarm submit DIR --items N` as submitters sN. With
// "store": "postgres" the state lives in the run's database server instead
// (docs/postgres.md): init gets `--store postgres`, every program reaches
// the server through the PG* variables the engine sets, and the end state
// is what `swarm dump DIR` prints.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sim/sut.h"

namespace faultline::sut {

class ReferenceSut final : public Sut {
 public:
  // `scenario` must outlive the Sut.
  ReferenceSut(const ResolvedScenario& scenario, SutPaths paths);

  nlohmann::json Describe() const override;
  const std::string& Dir() const override { return paths_.dir; }
  unsigned Observations() const override;
  // On a database server: its network and the server, no state files.
  unsigned Offers() const override {
    return capability::OnStore(capability::kReferenceSut, s_.store == "postgres");
  }

  bool Prepare(SutHost& host, std::string* error) override;
  bool Processes(SutHost& host, std::vector<SutProcessSpec>* out, std::string* error) override;
  bool Submitter(SutHost& host, const std::string& id, int64_t items, SutProcessSpec* out,
                 std::string* error) override;
  nlohmann::json Submitted() const override;
  EnvList CollectorEnv(const std::string& endpoint,
                       const ResolvedScenario::Telemetry& telemetry) const override;
  EnvList ModelEnv(const std::string& endpoint) const override;

  nlohmann::json Snapshot() const override;
  nlohmann::json StateCheck() const override;
  nlohmann::json EndState(SutHost& host) override;
  std::vector<SpoolLeft> SpansLeft() const override;
  std::string ClusterFingerprint() const override;
  bool RunTool(SutHost& host, const std::vector<std::string>& args, std::string* error) override;

 private:
  // Runs `swarm ARGS...` to completion, its output in log_dir/`log`.
  bool RunSwarm(SutHost& host, const std::vector<std::string>& args, const std::string& log,
                std::string* error);
  // swarm submit of the scenario's items: one call, or with skills
  // (sim/skills.h) one call per skill over a file of ids.
  bool SubmitItems(SutHost& host, std::string* error);
  // "store": "postgres": the end state as `swarm dump` prints it.
  nlohmann::json DumpedEndState(SutHost& host);

  const ResolvedScenario& s_;
  SutPaths paths_;
  int tool_runs_ = 0;
  // The items that need a skill, by skill, and each agent's skills (the
  // submit event lists them).
  std::map<std::string, std::vector<std::string>> item_skills_;
  std::map<std::string, std::vector<std::string>> agent_skills_;
};

// Reads DIR/spool/<agent>/{seg-*.jsonl, live.jsonl} (docs/telemetry.md) as
// plain JSON lines with a "span_id" (the harness does not link the
// coordinator's exporter); agents sorted, those with nothing left omitted. A
// last line without its newline (a write cut short) is not counted.
std::vector<SpoolLeft> ReadSpoolLeft(const std::string& coord_dir);

}  // namespace faultline::sut
