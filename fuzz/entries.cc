#include "fuzz/entries.h"

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "faults/registry.h"
#include "reports/fmea_catalog.h"
#include "reports/junit.h"
#include "reports/run_record.h"
#include "reports/trace_analysis.h"
#include "sim/control_connection.h"
#include "sim/invariant.h"
#include "sim/invariants/registry.h"
#include "sim/json_diagnostics.h"
#include "sim/otlp_export.h"
#include "sim/scenario.h"
#include "sim/sink.h"
#include "sim/sut/sut_spec.h"
#include "sim/sut/systems.h"
#include "sim/sut/template.h"
#include "sim/trace_event.h"

namespace faultline::fuzz {
namespace {

using nlohmann::json;

std::string Text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

const Catalog& Registries() {
  static const Catalog catalog{faults::AllFaults(), CoreInvariants(), &sut::Systems()};
  return catalog;
}

// A value for every placeholder name, so that expansion touches them all.
sut::Values AllValues(const std::string& context) {
  sut::Values values;
  for (const std::string& name : sut::PlaceholdersFor(context)) values[name] = "v'a\"l ue";
  return values;
}

// Splits at lines holding only the record separator \x1e.
std::vector<std::string> Parts(const std::string& text, size_t count) {
  std::vector<std::string> parts;
  size_t from = 0;
  while (parts.size() + 1 < count) {
    size_t at = text.find("\n\x1e\n", from);
    if (at == std::string::npos) break;
    parts.push_back(text.substr(from, at - from));
    from = at + 3;
  }
  parts.push_back(text.substr(from));
  parts.resize(count);
  return parts;
}

// Every core checker with its default options.
std::vector<std::unique_ptr<Invariant>> AllCheckers() {
  std::vector<std::unique_ptr<Invariant>> out;
  for (const InvariantKind& kind : Registries().invariants) {
    json options = json::object();
    for (const OptionSpec& o : kind.options) options[o.name] = o.default_value;
    out.push_back(kind.make(options));
  }
  return out;
}

}  // namespace

int Scenario(const uint8_t* data, size_t size) {
  const std::string text = Text(data, size);
  faultline::Scenario scenario;
  ScenarioError error;
  if (!ParseScenario(text, "fuzz.json", Registries(), &scenario, &error)) {
    (void)error.ToString();
    return 0;
  }
  const uint64_t seed = size > 0 ? data[0] * 7919ULL + 1 : 1;
  ResolvedScenario resolved = Resolve(scenario, Registries(), seed);
  const std::string written = resolved.ToJson().dump(2);
  (void)resolved.SloJson();
  // What replay reads back must load again.
  faultline::Scenario again;
  if (!ParseScenario(written, "fuzz.resolved.json", Registries(), &again, &error)) __builtin_trap();
  (void)reports::ScenarioFmeaOf(scenario, false);
  return 0;
}

int SutBlock(const uint8_t* data, size_t size) {
  json block;
  if (diag::ParseDocument(Text(data, size), &block)) return 0;
  const bool lockstep = size % 2 == 0;
  if (sut::CheckSut(block, lockstep, 10'000)) return 0;
  sut::SutSpec spec = sut::ParseSut(block);
  (void)sut::Label(block);
  for (const auto& [context, command] :
       std::vector<std::pair<std::string, const json*>>{
           {"init", block.contains("init") ? &block["init"] : nullptr},
           {"agent", block.contains("agent") ? &block["agent"] : nullptr}}) {
    if (command != nullptr && (command->is_string() || command->is_array())) {
      (void)sut::ExpandCommand(*command, AllValues(context));
    }
  }
  for (const auto& [key, value] : spec.env) (void)sut::Expand(value, AllValues("env"), false);
  return 0;
}

int FmeaCatalogue(const uint8_t* data, size_t size) {
  reports::FmeaCatalog catalog;
  std::vector<ScenarioError> errors;
  if (!reports::ParseFmeaCatalog(Text(data, size), "fmea.json", &catalog, &errors)) return 0;
  errors = reports::CheckCatalog(catalog, Registries(), {});
  for (const ScenarioError& e : errors) (void)e.ToString();
  return 0;
}

int ControlProtocol(const uint8_t* data, size_t size) {
  // Both readers see the bytes through a socket, as in a run. The input is
  // written whole before reading (a socket buffer holds far more than the
  // fuzzer's inputs), then the write side is shut.
  for (const bool lockstep : {true, false}) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
    int buffer = 4 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    size_t off = 0;
    while (off < size) {
      ssize_t n = send(sv[1], data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    shutdown(sv[1], SHUT_WR);
    ControlConnection conn(sv[0]);
    // What the engine does with an event: the trace writer dumps it with
    // the harness's fields, and every checker observes it.
    std::vector<std::unique_ptr<Invariant>> checkers = AllCheckers();
    uint64_t seq = 0;
    auto on_event = [&](json event, int64_t) {
      event["seq"] = seq++;
      event["t"] = 1000 * seq;
      event["proc"] = "a0";
      (void)event.dump();
      const TraceEvent e = TraceEvent::FromJson(std::move(event));
      for (auto& c : checkers) c->Observe(e);
    };
    std::string error;
    for (int i = 0; i < 10000; ++i) {
      error.clear();
      ControlConnection::Read r;
      if (lockstep) {
        Parked parked;
        r = conn.AwaitPark(1000, on_event, &parked, &error);
      } else {
        r = conn.Drain(on_event, &error);
      }
      if (r != ControlConnection::Read::kParked) break;
    }
    close(sv[0]);
    close(sv[1]);
    std::vector<Violation> violations;
    for (auto& c : checkers) {
      c->Finish(&violations);
      (void)c->Summary().dump();
    }
  }
  return 0;
}

int RunDirectory(const uint8_t* data, size_t size) {
  const std::vector<std::string> parts = Parts(Text(data, size), 3);
  json verdict = json::parse(parts[0], nullptr, false);
  std::string error;
  if (reports::CheckVerdict(verdict, &error)) {
    (void)reports::OutcomeOf(verdict);
    reports::JunitCase c = reports::JunitCaseFromVerdict(verdict, "run-1", "/tmp/run-1");
    (void)reports::RenderJunit({c});
    reports::EvidenceIndex evidence = reports::EvidenceOf(verdict);
    std::istringstream trace(parts[2]);
    uint64_t bad = 0;
    (void)reports::AnalyzeTrace(trace, evidence, &bad);
    // replay: the resolved scenario with the recorded seed.
    faultline::Scenario scenario;
    ScenarioError serror;
    if (ParseScenario(parts[1], "scenario.resolved.json", Registries(), &scenario, &serror)) {
      (void)Resolve(scenario, Registries(), verdict["seed"].get<uint64_t>()).ToJson().dump();
    }
  }
  std::istringstream lines(parts[2]);
  std::string line;
  while (std::getline(lines, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object()) (void)TraceEvent::FromJson(std::move(j));
  }
  return 0;
}

int OtlpExport(const uint8_t* data, size_t size) {
  std::vector<ReceivedSpan> spans;
  size_t rejected = 0;
  if (ParseOtlpExport(Text(data, size), &spans, &rejected)) {
    for (const ReceivedSpan& s : spans) {
      (void)json{{"span_id", s.span_id}, {"trace_id", s.trace_id}, {"name", s.name},
                 {"instance", s.instance}}
          .dump();
    }
  }
  return 0;
}

int ModelRequest(const uint8_t* data, size_t size) {
  (void)StubModelAnswer(Text(data, size));
  return 0;
}

}  // namespace faultline::fuzz
