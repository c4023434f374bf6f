// The storage model of the power_loss fault (docs/faults.md): from the
// durability journal the LD_PRELOAD layer keeps (faults/preload/
// power_control.h), what a directory tree could look like after the machine
// lost power, and writing that state over the live tree.
//
// Model: a file's content is durable as of its last successful fsync or
// fdatasync (before any: as of the baseline, or empty for a file created
// since); what was written after is dropped, kept, or torn (the first k
// bytes of the new content over the durable content), per file. A
// directory's entries are durable as of its last successful fsync; the
// creates, links, renames and unlinks made in it since are undone, all, none
// or all after a cut drawn per directory (a prefix of them survives, in
// their order). A rename counts in both directories it touches. Files are
// identified by inode number; a create resets what is known of a reused one.
//
// Pure functions over in-memory trees, apart from Scan, ReadJournals and
// Apply, which touch the file system. Deterministic: the same records, trees
// and random stream give the same state, whatever the process ids and inode
// numbers were.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "sim/rng.h"

namespace faultline::faults::power {

struct Entry {
  uint64_t ino = 0;
  char type = 'f';  // 'f' regular file, 'd' directory
  auto operator<=>(const Entry&) const = default;
};
using Listing = std::map<std::string, Entry>;  // by name

// A directory tree: every directory's entries (by path relative to the root,
// "." for the root itself) and every regular file's content by inode.
struct Tree {
  std::map<std::string, Listing> dirs;
  std::map<uint64_t, std::string> content;
};

// One record of a journal (power_control.h).
struct Record {
  char kind = 0;  // F C S N D L U
  uint64_t seq = 0;
  int pid = 0;
  uint64_t ino = 0;
  char type = 'f';
  std::string dir, name;
  std::string data;      // F, C
  bool too_big = false;  // F, C: journaled by length only
  Listing entries;       // S
};

// Reads `root` (regular files and directories; anything else is ignored).
Tree Scan(const std::string& root);

// The records of every *.jnl file in `dir` from where the last call left off
// (`offsets`, by file name), sorted by seq. A record cut short at the end of
// a file (its writer killed mid-write) is left for the next call. `damaged`
// is set when a file holds something that is not a record.
std::vector<Record> ReadJournals(const std::string& dir, std::map<std::string, size_t>* offsets,
                                 bool* damaged);

enum class Unsynced { kDrop, kTorn, kKeep, kAny };
enum class UnsyncedOps { kUndo, kPrefix, kKeep };

// A state the storage could have left, and how it differs from the live one.
struct CrashState {
  std::set<std::string> dirs;                // every directory but the root
  std::map<std::string, std::string> files;  // path -> content
  // Evidence (paths as given; the caller normalises them).
  std::vector<std::string> rolled_back;  // unsynced data dropped
  std::vector<std::string> torn;         // cut inside the unsynced data
  std::vector<std::string> kept;         // unsynced data kept
  std::vector<std::string> ops_undone;   // "+dir/name" (a name added, undone), "-dir/name"
  int ops_kept = 0;                      // unsynced namespace changes that survived
  // The size of the state space this crash drew from, bounded from above:
  // the product over directories of their distinct listings (one per cut),
  // times the product over files with unsynced data of their distinct
  // contents (dropped, kept, each torn cut). Saturates at UINT64_MAX.
  uint64_t dir_choices = 1;
  uint64_t file_choices = 1;
};

// The state after a power loss of the tree `live`, whose durable state was
// `baseline` before `records`. Draws from `rng` a fixed number of values per
// directory with unsynced changes and per file of the result.
CrashState Reconstruct(const Tree& baseline, const std::vector<Record>& records, const Tree& live,
                       Unsynced unsynced, UnsyncedOps ops, Rng& rng);

// The paths and contents of `tree` (for tests and for Apply).
CrashState Flatten(const Tree& tree);

// Rewrites the tree at `root` (whose content is `live`) into `state`:
// removes what it lacks, creates what it adds, rewrites what differs. Returns
// "" or what failed.
std::string Apply(const std::string& root, const Tree& live, const CrashState& state);

}  // namespace faultline::faults::power
