#include "sim/sut/systems.h"

#include <stdlib.h>

#include "base/install_layout.h"
#include "sim/invariant.h"
#include "sim/protocol/interpose_protocol.h"
#include "sim/sut/differential.h"
#include "sim/sut/external_sut.h"
#include "sim/sut/reference_sut.h"
#include "sim/sut/sut_spec.h"

namespace faultline::sut {
namespace {

std::optional<SutBlockProblem> Converted(std::optional<SutProblem> problem) {
  if (!problem) return std::nullopt;
  return SutBlockProblem{problem->pointer, problem->message};
}

// The command adapter: as given, else $FAULTLINE_ADAPTER, else
// faultline-adapter where this executable's helpers are
// (base/install_layout.h); when there is none, the path beside it, for the
// error message.
std::string AdapterProgram(const std::string& given) {
  if (!given.empty()) return given;
  if (const char* env = std::getenv("FAULTLINE_ADAPTER"); env && *env) return env;
  const std::string found = base::FindHelper("faultline-adapter");
  return found.empty() ? base::HelperCandidates("faultline-adapter").front() : found;
}

// libfaultline_interpose.so: $FAULTLINE_INTERPOSE_LIB (FL_IP_LIB_ENV), else
// where the install layout puts the preload libraries (base/install_layout.h).
std::string InterposeLibrary() {
  if (const char* env = std::getenv(FL_IP_LIB_ENV); env && *env) return env;
  const std::string found = base::FindHelper("libfaultline_interpose.so");
  return found.empty() ? base::HelperCandidates("libfaultline_interpose.so").front() : found;
}

class AllSystems final : public SutFactory {
 public:
  std::optional<SutBlockProblem> CheckSut(const nlohmann::json& block, bool lockstep,
                                          int64_t step_timeout_ms) const override {
    return Converted(sut::CheckSut(block, lockstep, step_timeout_ms));
  }
  std::optional<SutBlockProblem> CheckDifferential(const nlohmann::json& block, bool has_sut,
                                                   bool lockstep,
                                                   int64_t step_timeout_ms) const override {
    return Converted(sut::CheckDifferential(block, has_sut, lockstep, step_timeout_ms));
  }
  void AnchorCwd(nlohmann::json* block, const std::string& base_dir) const override {
    sut::AnchorCwd(block, base_dir);
  }
  DifferentialPlan Differential(const nlohmann::json& block) const override {
    const DifferentialSpec spec = ParseDifferential(block);
    return {spec.against, spec.compare};
  }
  std::string Label(const nlohmann::json& block) const override {
    return block.is_null() ? "reference (swarm)" : sut::Label(block);
  }
  unsigned Observations(const nlohmann::json& block) const override {
    return block.is_null() ? observes::kReference : sut::Observations(ParseSut(block));
  }
  unsigned Offers(const nlohmann::json& block) const override {
    return block.is_null() ? capability::kReferenceSut : capability::kExternalSut;
  }
  std::string MissingObservations(unsigned missing) const override {
    return sut::MissingObservations(missing);
  }
  std::unique_ptr<Sut> Make(const ResolvedScenario& s, const SutPaths& paths) const override {
    if (s.sut.is_null()) return std::make_unique<ReferenceSut>(s, paths);
    RunSettings rs;
    rs.dir = paths.dir;
    rs.work_dir = paths.work_dir;
    rs.log_dir = paths.log_dir;
    rs.adapter_bin = AdapterProgram(paths.adapter_bin);
    rs.interpose_lib = InterposeLibrary();
    rs.lockstep = s.mode == Mode::kLockstep;
    rs.seed = s.seed;
    rs.items = s.items;
    rs.agents = s.agents;
    rs.reaper = s.reaper;
    rs.settings = s;
    rs.work_min_ms = s.work_min_ms;
    rs.work_max_ms = s.work_max_ms;
    return std::make_unique<ExternalSut>(s.sut, rs);
  }
};

}  // namespace

const SutFactory& Systems() {
  static const AllSystems systems;
  return systems;
}

}  // namespace faultline::sut
