#include "cli/progress_line.h"

#include <cstdio>
#include <utility>

namespace faultline::cli {

std::string Duration(double seconds) {
  const int64_t s = seconds < 0 ? 0 : static_cast<int64_t>(seconds + 0.5);
  char text[32];
  if (s < 60) {
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  }
  return text;
}

std::string ProgressText(const std::string& what, int64_t done, int64_t total, int64_t failures,
                         double elapsed_s) {
  std::string line = what + ": " + std::to_string(done) + "/" + std::to_string(total) + " done";
  if (failures >= 0) line += ", " + std::to_string(failures) + " failing";
  // The pace so far; the first item says nothing yet.
  if (done > 0 && done < total) {
    line += ", " +
            Duration(elapsed_s / static_cast<double>(done) * static_cast<double>(total - done)) +
            " left";
  }
  return line;
}

ProgressLine::ProgressLine(std::string what, int64_t total, bool enabled)
    : what_(std::move(what)), total_(total), enabled_(enabled) {}

ProgressLine::~ProgressLine() { Clear(); }

void ProgressLine::Update(int64_t done, int64_t failures) {
  if (!enabled_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "\r%s\033[K", ProgressText(what_, done, total_, failures, elapsed).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::Clear() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace faultline::cli
