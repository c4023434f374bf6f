// Where faultline's programs find their helpers and data, relative to the
// running executable (/proc/self/exe), so that the same binary works from
// the build tree and from an installed prefix, wherever that prefix is:
//
//   build tree            installed (GNUInstallDirs)
//   build/bin/faultline   PREFIX/bin/faultline, swarm
//   build/bin/<helper>    PREFIX/libexec/faultline/faultline-adapter
//   build/lib/<lib>.so    PREFIX/lib/faultline/libfaultline_*.so (the LD_PRELOAD libraries)
//   SRC/scenarios         PREFIX/share/faultline/scenarios
//
// The installed directories are fixed at configure time as paths relative to
// the binary directory; an environment variable set by the caller still wins
// where a lookup documents one (FAULTLINE_ADAPTER, FAULTLINE_IOERR_PRELOAD).
#pragma once

#include <string>
#include <vector>

namespace base {

// The directory of the running executable; "" if /proc/self/exe is unreadable.
std::string ExecutableDir();

// The places a helper program or preload library called `name` may be, in
// the order they are tried: beside the executable, the build tree's lib/,
// the installed libexec/faultline/ and lib/faultline/.
std::vector<std::string> HelperCandidates(const std::string& name);

// The first candidate that exists (absolute, symlinks resolved); else "" with
// `*tried` (if not null) listing every path tried, for the error message.
std::string FindHelper(const std::string& name, std::string* tried = nullptr);

// The installed data directory (PREFIX/share/faultline) when the executable
// runs from an installed prefix and it exists; else "".
std::string InstalledDataDir();

// The version line: "faultline 0.4.0 (git v0.4.0-12-gabc1234)", the CMake
// project version and, when the sources were a git checkout at configure
// time, git describe.
std::string VersionString(const std::string& tool);

}  // namespace base
