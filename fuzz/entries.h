// The fuzz targets' entry functions: each feeds one input, as bytes, to one
// reader of what comes from outside faultline (a user, a system under test,
// a run directory, an HTTP client) and drives everything that reads the
// result further, the way faultline itself would.
//
// Contract of every entry: for any bytes it returns 0 and neither throws,
// aborts, hangs nor leaks; a malformed input must end in the reader's
// ordinary error path. The same functions run under libFuzzer (fuzz/, built
// with FAULTLINE_FUZZ=ON) and, in the normal build, over the kept inputs of
// tests/fuzz/<target>/ (tests/fuzz/fuzz_regression_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>

namespace faultline::fuzz {

using Entry = int (*)(const uint8_t* data, size_t size);

// A scenario file: parse, validate, resolve with a seed drawn from the input,
// and write the resolved scenario back out (what run and replay do).
int Scenario(const uint8_t* data, size_t size);
// A "sut" block on its own: CheckSut, then ParseSut, Label and the command
// templates' expansion with every placeholder.
int SutBlock(const uint8_t* data, size_t size);
// A failure-mode catalogue (fmea.json): parse and cross-check it.
int FmeaCatalogue(const uint8_t* data, size_t size);
// What a controlled process writes on its control channel, through a real
// socketpair, in lockstep (AwaitPark) and in freerun (Drain).
int ControlProtocol(const uint8_t* data, size_t size);
// A run directory as report/replay read it, in one input: verdict.json, a
// line "\x1e", scenario.resolved.json, a line "\x1e", trace.jsonl.
int RunDirectory(const uint8_t* data, size_t size);
// The body of an OTLP/HTTP JSON export request, as the sink receives it.
int OtlpExport(const uint8_t* data, size_t size);
// The body of a request to the stub model API.
int ModelRequest(const uint8_t* data, size_t size);

struct Target {
  const char* name;  // the folder of its kept inputs: tests/fuzz/<name>/
  Entry entry;
};
inline constexpr Target kTargets[] = {
    {"scenario", Scenario},           {"sut_block", SutBlock},
    {"fmea", FmeaCatalogue},          {"control", ControlProtocol},
    {"run_directory", RunDirectory},  {"otlp", OtlpExport},
    {"model_request", ModelRequest},
};

}  // namespace faultline::fuzz
