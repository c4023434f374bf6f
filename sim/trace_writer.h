// Writes a run's history, one JSON object per line, numbering the lines
// ("seq") and hashing exactly the bytes written (trace_sha256: two lockstep
// runs with the same seed must produce the same hash). Every line is also
// handed to the observers (the invariant checkers) as it is written.
//
// Thread-compatible.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace faultline {

class TraceWriter {
 public:
  using Observer = std::function<void(const nlohmann::json& line)>;
  // Opens `path` for writing (truncates). ok() tells whether it worked.
  TraceWriter(const std::string& path, Observer observer);
  ~TraceWriter();
  TraceWriter(const TraceWriter&) = delete;
  TraceWriter& operator=(const TraceWriter&) = delete;

  bool ok() const { return file_ != nullptr; }
  // False once a write, flush or close failed (a full disk): the trace on
  // disk is incomplete and the run cannot be judged from it.
  bool complete() const { return !failed_; }
  // Appends `event` with "seq", "t" and "proc" set (keys are written sorted,
  // so the bytes depend only on the content).
  void Append(int64_t t, const std::string& proc, nlohmann::json event);
  // Pushes buffered lines to the file (called at every simulated-time step,
  // so that a harness crash loses at most the current step).
  void Flush();
  // Flushes, closes and returns the hex SHA-256 of everything written.
  std::string Finish();
  uint64_t lines() const { return seq_; }

 private:
  std::FILE* file_ = nullptr;
  struct Hasher;
  std::unique_ptr<Hasher> hasher_;
  Observer observer_;
  uint64_t seq_ = 0;
  bool failed_ = false;
};

}  // namespace faultline
