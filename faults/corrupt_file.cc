// corrupt_file: something other than the coordinator damages one of its
// state files in place — truncated to half, or its first bytes garbled — at a
// run time. The target is a random pending item, a random claimed item, or a
// random live agent's record. Stands for concurrent file corruption (RPN 140):
// the file must be quarantined with an event, the item accounted for, and
// nothing may crash-loop on it.
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "faults/kinds.h"

namespace faultline::faults {
namespace {

namespace stdfs = std::filesystem;

class CorruptFile final : public Fault {
 public:
  explicit CorruptFile(const nlohmann::json& o)
      : target_(o["target"]), how_(o["how"]), at_ms_(o["at_ms"]), count_(o["count"]),
        every_ms_(o["every_ms"]) {}

  void Start(FaultContext& ctx) override {
    for (int i = 0; i < count_; ++i) ctx.SetTimer((at_ms_ + i * every_ms_) * 1000, 0);
  }

  void OnTimer(FaultContext& ctx, int) override {
    const bool agent = target_ == "agent";
    const std::string sub = agent ? "agents" : "items";
    const std::string wanted = agent ? "alive" : target_ == "pending_item" ? "pending" : "claimed";
    const std::string coord = ctx.directory().Path();
    // Candidates in sorted order, so that the seeded choice is reproducible.
    std::vector<std::string> names;
    std::error_code ec;
    for (auto it = stdfs::directory_iterator(coord + "/" + sub, ec);
         !ec && it != stdfs::directory_iterator(); it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    std::sort(names.begin(), names.end());
    std::vector<std::string> candidates;
    for (const std::string& name : names) {
      std::ifstream in(coord + "/" + sub + "/" + name);
      nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
      if (state.is_object() && state.value("status", "") == wanted) candidates.push_back(name);
    }
    if (candidates.empty()) return;  // nothing of that kind right now: did not land
    const std::string rel = sub + "/" + candidates[ctx.rng().Index(candidates.size())];
    const std::string path = coord + "/" + rel;
    if (!Damage(path)) return;
    ctx.Landed({{"file", rel}, {"how", how_}, {"at_us", ctx.Now()}});
  }

 private:
  bool Damage(const std::string& path) const {
    if (how_ == "truncate") {
      std::error_code ec;
      const auto size = stdfs::file_size(path, ec);
      return !ec && truncate(path.c_str(), static_cast<off_t>(size / 2)) == 0;
    }
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return false;
    static const char kGarbage[] = "\x01\x7f{garbled";
    bool ok = pwrite(fd, kGarbage, sizeof kGarbage - 1, 0) == sizeof kGarbage - 1;
    close(fd);
    return ok;
  }

  std::string target_;
  std::string how_;
  int64_t at_ms_;
  int count_;
  int64_t every_ms_;
};

}  // namespace

FaultKind CorruptFileKind() {
  return {
      "corrupt_file",
      "truncate or garble a state file in place (a pending item, a claimed item, an agent)",
      "concurrent file corruption (RPN 140)",
      /*lockstep_only=*/false,
      {
          {"target", OptionSpec::Type::kString, false, "pending_item", 0, 0,
           {"pending_item", "claimed_item", "agent"}, "which kind of state file"},
          {"how", OptionSpec::Type::kString, false, "garble", 0, 0, {"garble", "truncate"},
           "garble the first bytes, or cut the file to half"},
          {"at_ms", OptionSpec::Type::kInt, true, nullptr, 0, 86'400'000, {},
           "when the file is damaged"},
          {"count", OptionSpec::Type::kInt, true, 1, 1, 1000, {}, "how many files"},
          {"every_ms", OptionSpec::Type::kInt, true, 200, 1, 86'400'000, {},
           "time between them"},
      },
      [](const nlohmann::json& o) { return std::make_unique<CorruptFile>(o); },
      /*needs=*/capability::kDirectory | capability::kStateFiles | capability::kReferenceFiles,
  };
}

}  // namespace faultline::faults
