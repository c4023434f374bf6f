// Finding and loading run directories for the reports.
#include "reports/run_record.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace faultline::reports {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

constexpr int kMaxDepth = 4;

bool IsRunDir(const stdfs::path& dir) {
  std::error_code ec;
  return stdfs::is_regular_file(dir / "verdict.json", ec);
}

void Search(const stdfs::path& dir, int depth, std::vector<std::string>* out) {
  if (IsRunDir(dir)) {
    out->push_back(dir.string());
    return;
  }
  if (depth >= kMaxDepth) return;
  std::vector<stdfs::path> children;
  std::error_code ec;
  for (auto it = stdfs::directory_iterator(dir, ec); !ec && it != stdfs::directory_iterator();
       it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_directory(type_ec)) children.push_back(it->path());
  }
  std::sort(children.begin(), children.end());
  for (const stdfs::path& child : children) Search(child, depth + 1, out);
}

json ReadJson(const stdfs::path& file) {
  std::ifstream in(file);
  if (!in) return json();
  return json::parse(in, nullptr, false, /*ignore_comments=*/true);
}

}  // namespace

Outcome OutcomeOf(const json& verdict) {
  const std::string end = verdict.value("end", "");
  if (end == "interrupted") return Outcome::kInterrupted;
  if (end == "harness_error") return Outcome::kHarnessError;
  if (verdict.value("ok", false)) return Outcome::kPass;
  for (const json& inv : verdict.value("invariants", json::array())) {
    if (!inv.value("violations", json::array()).empty()) return Outcome::kViolation;
  }
  return Outcome::kHarnessError;  // not ok, yet nothing violated: an incomplete run
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPass: return "pass";
    case Outcome::kViolation: return "violation";
    case Outcome::kHarnessError: return "harness error";
    case Outcome::kInterrupted: return "interrupted";
  }
  return "?";
}

std::vector<std::string> FindRunDirs(const std::vector<std::string>& roots,
                                     std::vector<std::string>* problems) {
  std::vector<std::string> out;
  for (std::string root : roots) {
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    std::error_code ec;
    if (!stdfs::is_directory(root, ec)) {
      problems->push_back(root + ": not a folder; pass run directories or folders holding them");
      continue;
    }
    size_t before = out.size();
    Search(root, 0, &out);
    if (out.size() == before) {
      problems->push_back(root + ": holds no run directory (no verdict.json within " +
                          std::to_string(kMaxDepth) + " levels)");
    }
  }
  return out;
}

bool LoadRunDir(const std::string& given, RunDir* out, std::string* error) {
  std::string path = given;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  stdfs::path dir(path);
  json verdict = ReadJson(dir / "verdict.json");
  if (!verdict.is_object() || !verdict.contains("scenario") || !verdict.contains("seed")) {
    *error = path + "/verdict.json: missing or not a verdict (no \"scenario\"/\"seed\"); was the "
             "run cut short? Re-run it with faultline run";
    return false;
  }
  out->path = path;
  out->id = dir.filename().string();
  out->verdict = std::move(verdict);
  out->fmea.clear();
  json resolved = ReadJson(dir / "scenario.resolved.json");
  out->resolved = resolved.is_object() ? resolved : json::object();
  if (resolved.is_object() && resolved.contains("fmea") && resolved["fmea"].is_array()) {
    for (const json& id : resolved["fmea"]) {
      if (id.is_string()) out->fmea.push_back(id.get<std::string>());
    }
  }
  // In the run directory, or beside it: faultline explore writes minimal.json
  // into its --out folder, next to the run directories of the search.
  out->minimal.clear();
  for (const stdfs::path& candidate : {dir / "minimal.json", dir.parent_path() / "minimal.json"}) {
    std::error_code ec;
    if (stdfs::is_regular_file(candidate, ec)) {
      out->minimal = candidate.string();
      break;
    }
  }
  return true;
}

}  // namespace faultline::reports
