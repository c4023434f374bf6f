// The reference's atomic, durable writes (coordinator/fs_util.h) with a step
// left out, for the durability mutants of the zoo: a temp file that is never
// fsynced, a rename or link whose directory is never fsynced, a file
// overwritten in place. A process crash loses nothing to any of them (the
// page cache survives it); a power loss does.
#pragma once

#include <string>
#include <string_view>

#include "coordinator/status.h"

namespace swarm::mutants {

struct Durability {
  bool fsync_file = true;  // fsync the temp file before it is linked or renamed
  bool fsync_dir = true;   // fsync the target's directory after
};

// Creates `path` once (Conflict if it exists): temp file in `tmp_dir`, link.
Status CreateOnce(const std::string& tmp_dir, const std::string& path, std::string_view data,
                  Durability d);
// Replaces `path`: temp file in `tmp_dir`, rename over it.
Status Replace(const std::string& tmp_dir, const std::string& path, std::string_view data,
               Durability d);
// Overwrites `path` in place (truncate, write), no fsync.
Status OverwriteInPlace(const std::string& path, std::string_view data);

}  // namespace swarm::mutants
