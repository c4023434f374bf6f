// FaultCtx: each fault's FaultContext and the capabilities it hands out,
// forwarding to the engine with the fault's index and kind.
#include "sim/engine_internal.h"

#include <fmt/format.h>

namespace faultline::engine_detail {

int64_t FaultCtx::Now() const { return engine_->T(); }

bool FaultCtx::Lockstep() const { return engine_->lockstep(); }

void FaultCtx::SetTimer(int64_t at, int tag) {
  Engine* e = engine_;
  int i = index_;
  e->AddTimer(at, [e, i, tag] { e->fault(i)->OnTimer(e->ctx(i), tag); });
}

void FaultCtx::Landed(const nlohmann::json& details) {
  engine_->FaultLanded(index_, kind_, details);
}

void FaultCtx::SetupFailed(const std::string& why) {
  engine_->FaultSetupFailed("fault " + kind_ + ": " + why);
}

std::vector<std::string> FaultCtx::List(std::string_view role) const {
  return engine_->ProcIds(role);
}

bool FaultCtx::Alive(const std::string& proc) const { return engine_->IsAlive(proc); }

bool FaultCtx::Kill(const std::string& proc) { return engine_->Kill(proc, kind_); }

bool FaultCtx::Terminate(const std::string& proc) { return engine_->Terminate(proc); }

void FaultCtx::Restart(const std::string& proc) { engine_->Restart(proc); }

void FaultCtx::Hold(const std::string& proc, int64_t until) { engine_->Stall(proc, until); }

void FaultCtx::AddArgs(const std::string& agent, const std::vector<std::string>& args) {
  // These are flags of `swarm agent`; an external SUT's agents take their own.
  if (engine_->external_sut()) return;
  if (Proc* p = engine_->Find(agent)) p->argv.insert(p->argv.end(), args.begin(), args.end());
}

void FaultCtx::AddEnv(const std::string& proc, const std::string& key, const std::string& value) {
  if (Proc* p = engine_->Find(proc)) p->env.emplace_back(key, value);
}

bool FaultCtx::LimitFiles(const std::string& proc, int limit) {
  return engine_->LimitFiles(proc, limit);
}

void FaultCtx::Skew(const std::string& proc, int64_t offset_us, int64_t drift_ppm) {
  if (Proc* p = engine_->Find(proc)) {
    p->skew_offset_us = offset_us;
    p->skew_drift_ppm = drift_ppm;
  }
}

void FaultCtx::Steppable(const std::string& proc) { engine_->MakeSteppable(proc); }

bool FaultCtx::Step(const std::string& proc, int64_t step_us) {
  return engine_->StepWall(proc, step_us);
}

bool FaultCtx::Switch(Endpoint endpoint, CollectorMode mode) {
  return endpoint == Endpoint::kCollector ? engine_->SetCollectorMode(mode)
                                          : engine_->SetModelMode(mode);
}

std::string FaultCtx::Path() const { return engine_->coord(); }

std::string FaultCtx::ScratchDir() const { return engine_->scratch(); }

std::string FaultCtx::WriteScratchFile(const std::string& name, const std::string& content) {
  return engine_->WriteScratch(fmt::format("fault{}-{}", index_, name), content);
}

nlohmann::json FaultCtx::Settings() const { return engine_->Settings(); }

std::string FaultCtx::Fingerprint() const { return engine_->ClusterFingerprint(); }

bool FaultCtx::RunTool(const std::vector<std::string>& args, std::string* error) {
  return engine_->RunTool(args, error);
}

void FaultCtx::CheckState() { engine_->StateCheck(); }

}  // namespace faultline::engine_detail
