// Finding and loading run directories for the reports.
#include "reports/run_record.h"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>

#include "base/bounded_read.h"
#include "sim/json_diagnostics.h"

namespace faultline::reports {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;

constexpr int kMaxDepth = 4;
// verdict.json and scenario.resolved.json are small; anything beyond is not one.
constexpr size_t kMaxRecordBytes = size_t{64} << 20;

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

// The file's JSON, or null when it is missing, no regular file, larger than
// kMaxRecordBytes, nested too deep or no JSON (`why` says which).
json ReadJson(const stdfs::path& file, std::string* why = nullptr) {
  base::Result<std::string> text = base::ReadRegularFile(file.string(), kMaxRecordBytes);
  if (!text.ok()) {
    if (why) *why = file.string() + ": " + text.status().message();
    return json();
  }
  if (diag::NestingDepth(*text) > diag::kMaxDocumentDepth) {
    if (why) *why = file.string() + ": nested too deep";
    return json();
  }
  json j = json::parse(*text, nullptr, false, /*ignore_comments=*/true);
  if (j.is_discarded() && why) *why = file.string() + ": not JSON";
  return j;
}

// "" when `j` (at `pointer`) has the type `want` names.
std::string TypeProblem(const json& j, const std::string& pointer, std::string_view want) {
  const bool ok = want == "string"    ? j.is_string()
                  : want == "boolean" ? j.is_boolean()
                  : want == "integer" ? j.is_number_integer()
                  : want == "unsigned integer" ? j.is_number_unsigned()
                  : want == "object" ? j.is_object()
                  : want == "array"  ? j.is_array()
                                     : false;
  if (ok) return "";
  return fmt::format("{}: found {}, expected {}", pointer.empty() ? "the document" : pointer,
                     j.type_name(), want == "integer" || want == "unsigned integer" || want == "array" || want == "object" ? "an " + std::string(want) : "a " + std::string(want));
}

// The fields of `object` named in `fields`, when present, of their types.
std::string FieldsProblem(const json& object, const std::string& pointer,
                          std::initializer_list<std::pair<const char*, std::string_view>> fields) {
  for (const auto& [name, want] : fields) {
    auto it = object.find(name);
    if (it == object.end()) continue;
    if (std::string p = TypeProblem(*it, pointer + "/" + name, want); !p.empty()) return p;
  }
  return "";
}

std::string VerdictProblem(const json& v) {
  if (std::string p = TypeProblem(v, "", "object"); !p.empty()) return p;
  for (const char* required : {"scenario", "seed"}) {
    if (!v.contains(required)) return fmt::format("no \"{}\"", required);
  }
  if (std::string p = FieldsProblem(v, "", {{"scenario", "string"}, {"seed", "unsigned integer"},
                                            {"mode", "string"}, {"end", "string"},
                                            {"ok", "boolean"}, {"vacuous", "boolean"},
                                            {"trace_sha256", "string"}, {"error", "string"},
                                            {"reproduce", "string"}, {"stats", "object"},
                                            {"invariants", "array"}, {"faults", "array"}});
      !p.empty()) {
    return p;
  }
  if (auto stats = v.find("stats"); stats != v.end()) {
    for (const auto& [key, value] : stats->items()) {
      if (!value.is_number() && !value.is_null()) {
        return fmt::format("/stats/{}: found {}, expected a number", key, value.type_name());
      }
    }
  }
  const json& invariants = v.contains("invariants") ? v["invariants"] : json::array();
  for (size_t i = 0; i < invariants.size(); ++i) {
    const std::string at = fmt::format("/invariants/{}", i);
    if (std::string p = TypeProblem(invariants[i], at, "object"); !p.empty()) return p;
    if (std::string p = FieldsProblem(invariants[i], at, {{"name", "string"}, {"violations", "array"}});
        !p.empty()) {
      return p;
    }
    const json& violations =
        invariants[i].contains("violations") ? invariants[i]["violations"] : json::array();
    for (size_t k = 0; k < violations.size(); ++k) {
      const std::string vat = fmt::format("{}/violations/{}", at, k);
      if (std::string p = TypeProblem(violations[k], vat, "object"); !p.empty()) return p;
      if (std::string p = FieldsProblem(violations[k], vat, {{"message", "string"}, {"evidence", "array"}});
          !p.empty()) {
        return p;
      }
      const json& evidence =
          violations[k].contains("evidence") ? violations[k]["evidence"] : json::array();
      for (size_t e = 0; e < evidence.size(); ++e) {
        if (std::string p = TypeProblem(evidence[e], fmt::format("{}/evidence/{}", vat, e), "unsigned integer");
            !p.empty()) {
          return p;
        }
      }
    }
  }
  const json& faults = v.contains("faults") ? v["faults"] : json::array();
  for (size_t i = 0; i < faults.size(); ++i) {
    const std::string at = fmt::format("/faults/{}", i);
    if (std::string p = TypeProblem(faults[i], at, "object"); !p.empty()) return p;
    if (std::string p = FieldsProblem(faults[i], at, {{"kind", "string"}}); !p.empty()) return p;
    if (std::string p = FieldsProblem(faults[i], at, {{"landed", "boolean"}}); !p.empty()) return p;
  }
  return "";
}

}  // namespace

bool CheckVerdict(const json& verdict, std::string* error) {
  std::string problem = VerdictProblem(verdict);
  if (problem.empty()) return true;
  *error = problem;
  return false;
}

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
  std::string why;
  json verdict = ReadJson(dir / "verdict.json", &why);
  if (why.empty() && !CheckVerdict(verdict, &why)) why = path + "/verdict.json: " + why;
  if (!why.empty()) {
    *error = why + "; not a verdict written by faultline run (was the run cut short, or the "
             "file edited?): re-run it with faultline run";
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
