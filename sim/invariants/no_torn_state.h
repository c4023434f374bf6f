// no_torn_state (DESIGN §6): every state file parses at every state check and
// after every crash.
//
// The engine emits `state_check` after every process kill, after a
// power_loss fault rewrote the directory (attributed to that fault), and at
// the end of the run, having read every state file (cluster.json, items/*.json,
// agents/*.json, ledger/*.json) and parsed it as a JSON object; its
// "unparsable" lists the relative paths that did not parse. Each listed path
// is a violation unless a `fault` of kind "corrupt_file" named it ("file")
// earlier and it has not been repaired since. A `quarantine` event repairs
// items/<item>.json (it names "item") or agents/<agent>.json (it names
// "agent"): after it the file must parse again.
//
// A violation names the newly unparsable files of one state_check; its
// evidence is the `exit` that triggered the check (the latest since the
// previous check, if any) and the state_check. A file that stays unparsable
// across checks is reported once, at the first; it is reported again only if
// a check in between found it parsable.
//
// Thread-compatible; memory is one entry per deliberately corrupted file plus
// one per file currently reported.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sim/invariant.h"
#include "sim/invariants/checker_support.h"

namespace faultline {

class NoTornState final : public Invariant {
 public:
  static constexpr const char* kName = "no_torn_state";
  static constexpr const char* kSummary =
      "every state file parses at every state check (after each kill and at the end), except "
      "files a corrupt_file fault damaged and quarantine has not yet repaired";

  void Observe(const TraceEvent& event) override;
  void Finish(std::vector<Violation>* out) override;

 private:
  struct Exit {
    uint64_t seq = 0;
    std::string what;  // "a1 killed by signal 9", "a1 exited with code 1"
  };

  void OnStateCheck(const TraceEvent& event);

  std::unordered_map<std::string, uint64_t> corrupted_;  // path -> corrupt_file fault seq
  std::unordered_set<std::string> torn_;  // unexcused and unparsable at the last check
  std::optional<Exit> exit_;              // the latest exit since the last check
  checker::ViolationList violations_{kName};
};

}  // namespace faultline
