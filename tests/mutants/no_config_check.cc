// no_config_check: an agent started with its own settings (--config) takes
// them for the cluster's: it never compares its fingerprint with
// cluster.json, so it registers and claims with settings the others do not
// share, and never notices drift either (config inconsistency across
// agents, RPN 48).
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

class NoConfigCheckStore final : public MutantStore {
 public:
  NoConfigCheckStore(std::string dir, ClusterConfig config, Clock* clock, Probe* probe,
                     std::optional<ClusterConfig> own)
      : MutantStore(std::move(dir), config, clock, probe), own_(std::move(own)) {}

  Result<ClusterConfig> LoadCluster() override {
    if (own_) return *own_;  // the bug: cluster.json is never read
    return FsStore::LoadCluster();
  }

 private:
  std::optional<ClusterConfig> own_;
};

}  // namespace

Mutant NoConfigCheck() {
  return {"no_config_check",
          "an agent with its own settings takes them for the cluster's and never checks the "
          "fingerprint",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext& context) {
            return MutantStore::OpenAs<NoConfigCheckStore>(dir, clock, probe,
                                                           context.agent_config);
          }};
}

}  // namespace swarm::mutants
