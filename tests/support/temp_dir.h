// A scratch directory for one test, removed with everything in it at the end.
// It lives on tmpfs (/dev/shm) when there is one, so that fsync-heavy tests
// stay fast; FAULTLINE_TEST_TMPDIR overrides the place.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace faultline::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("FAULTLINE_TEST_TMPDIR");
    std::string root = base ? base : (std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp");
    std::string templ = root + "/faultline-test-XXXXXX";
    path_ = mkdtemp(templ.data()) ? templ : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Number of entries in a directory (0 if it does not exist).
inline size_t CountEntries(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

}  // namespace faultline::testing
