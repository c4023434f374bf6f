#include "base/install_layout.h"

#include <filesystem>

#include "base/version.h"  // generated at configure time (CMakeLists.txt)

namespace base {
namespace {

namespace stdfs = std::filesystem;

}  // namespace

std::string ExecutableDir() {
  std::error_code ec;
  const stdfs::path exe = stdfs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

std::vector<std::string> HelperCandidates(const std::string& name) {
  const stdfs::path bin = ExecutableDir();
  // The installed places come first after the executable's own directory: in
  // an installed prefix bin/../lib is the system's library directory, where a
  // stale copy of a preload library must not shadow the package's own.
  return {(bin / name).string(),
          (bin / FAULTLINE_REL_PKGLIBEXECDIR / name).lexically_normal().string(),
          (bin / FAULTLINE_REL_PKGLIBDIR / name).lexically_normal().string(),
          (bin.parent_path() / "lib" / name).string()};
}

std::string FindHelper(const std::string& name, std::string* tried) {
  std::error_code ec;
  for (const std::string& candidate : HelperCandidates(name)) {
    if (tried != nullptr) *tried += (tried->empty() ? "" : " or ") + candidate;
    if (stdfs::exists(candidate, ec)) return stdfs::canonical(candidate, ec).string();
  }
  return "";
}

std::string InstalledDataDir() {
  const std::string bin = ExecutableDir();
  if (bin.empty()) return "";
  const stdfs::path data = (stdfs::path(bin) / FAULTLINE_REL_PKGDATADIR).lexically_normal();
  std::error_code ec;
  return stdfs::is_directory(data / "scenarios", ec) ? data.string() : "";
}

std::string VersionString(const std::string& tool) {
  std::string line = tool + " " + FAULTLINE_VERSION;
  if (*FAULTLINE_GIT_DESCRIBE != '\0') line += std::string(" (git ") + FAULTLINE_GIT_DESCRIBE + ")";
  return line;
}

}  // namespace base
