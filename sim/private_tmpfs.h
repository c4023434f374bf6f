// A size-limited tmpfs that only this process and its children see: the
// scratch directory of a run whose faults fill the disk (disk_full). The
// mount lives in a private mount namespace made once per process — plainly
// as root, inside an unprivileged user namespace otherwise — so no mount
// outlives the harness, even when it is SIGKILLed.
//
// REQUIRES: called from a single-threaded process (user namespaces demand it).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace faultline {

// Mounts a tmpfs of `size_mb` MiB on the existing directory `dir`. An error
// says why the host does not allow it (no namespaces, no mount permission).
base::Status MountPrivateTmpfs(const std::string& dir, int64_t size_mb);

// Detaches the mount on `dir` (its contents vanish with it).
void UnmountPrivate(const std::string& dir);

}  // namespace faultline
