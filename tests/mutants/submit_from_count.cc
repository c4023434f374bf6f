// submit_from_count: `submit --items N` numbers its new ids from the number
// of items it counted, and the create-once write skips an id that is already
// there. Two submitters that count the same items write the same ids: the
// one that comes second finds them taken and adds fewer than it was asked
// for, yet exits 0 — its submission is lost. This is swarm's submission
// before generated ids were taken one by one by the create-once write.
#include <fmt/format.h>

#include "coordinator/fs_util.h"
#include "sim/protocol/control_protocol.h"
#include "tests/mutants/mutant_store.h"

namespace swarm::mutants {
namespace {

namespace point = faultline::protocol::point;
namespace probe = faultline::protocol::probe;

class SubmitFromCountStore final : public MutantStore {
 public:
  using MutantStore::MutantStore;

  Result<std::vector<std::string>> SubmitGenerated(std::string_view prefix, int64_t count,
                                                   std::string_view skill) override {
    auto names = fs::ListDir(Sub("items"));
    if (!names.ok()) return names.status();
    probe_->Yield(point::kSubmitListed, "");
    std::vector<std::string> added;
    // The bug: exactly the ids count+1 .. count+N, whoever takes them first.
    for (int64_t i = 1; i <= count; ++i) {
      ItemState s;
      s.id = fmt::format("{}{:06}", prefix, names->size() + static_cast<size_t>(i));
      s.payload = "payload of " + s.id;
      s.skill = std::string(skill);
      probe_->Yield(point::kSubmitCreate, s.id);
      Status st = fs::CreateAtomic(Sub("tmp"), ItemPath(s.id), ToJson(s).dump());
      if (st.code() == Status::Code::kConflict) {
        probe_->Reached(probe::kSubmitIdTaken);
        continue;  // "already present": skipped, and the submission goes on
      }
      if (!st.ok()) return st;
      added.push_back(std::move(s.id));
    }
    Event({{"type", "submit_ok"}, {"ids", added}});
    return added;
  }
};

}  // namespace

Mutant SubmitFromCount() {
  return {"submit_from_count",
          "submit --items numbers new ids from the item count and skips ids already taken, "
          "exiting 0 with fewer items than asked",
          [](const std::string& dir, Clock* clock, Probe* probe, const MutantContext&) {
            return MutantStore::OpenAs<SubmitFromCountStore>(dir, clock, probe);
          }};
}

}  // namespace swarm::mutants
