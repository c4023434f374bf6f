// The control protocol between the simulator and a controlled process.
//
// This is the one leaf header both sides include (DESIGN §1): it has no
// dependencies and defines only names. The wire format is one JSON object per
// line ('\n'-terminated) over a SOCK_STREAM socketpair whose child end's fd
// number is in the environment variable kCtlFdEnv.
//
// process -> sim                                   sim -> process
//   {"hello": {"pid": P, "role": R, "id": ID}}       {"go": true, "now": US}
//   {"yield": POINT, "item": ITEM}                   {"go": true, "now": US}
//   {"sleep_us": D}                                  {"go": true, "now": US}
//   {"event": {...}}                                 (no reply)
//   {"spawned": PID}                                 {"go": true, "now": US}
//
// "spawned" (the command adapter with "interleave": "syscalls",
// docs/interposition.md): the sender started PID under the interposition
// library and parks until the simulator has run that command's processes to
// their end; the answer comes once they have all exited.
//
// Every message that expects a reply blocks the process until the sim answers
// it; "now" is the simulated clock in microseconds, which the process then uses
// for every clock read until the next reply. A process without kCtlFdEnv runs
// on the real clock and its yield points cost one branch.
//
// "now" is the process's wall clock (CLOCK_REALTIME). Once the wall clock of
// the process has been stepped (the clock_step fault) the reply also carries
// "boot": {"go": true, "now": US, "boot": US}, the clock that does not step
// (CLOCK_BOOTTIME with a fixed anchor, what "now" would read without the
// steps). A process that keeps time on a clock that never steps reads "boot"
// when it is there and "now" otherwise; without a step both are the same.
//
// In freerun mode (kModeEnv=freerun) nothing is ever answered: the process
// runs on real time, its yield points are inert, and it only sends "hello"
// and "event" messages; every event carries "mono_us", the sender's
// CLOCK_MONOTONIC in microseconds. A complete write() is in the socket buffer
// and reaches the sim even if the sender is SIGKILLed right after it.
#pragma once

namespace faultline::protocol {

inline constexpr const char* kCtlFdEnv = "FAULTLINE_CTL_FD";
inline constexpr const char* kModeEnv = "FAULTLINE_MODE";  // "lockstep" (default) | "freerun"
// Freerun only: "OFFSET_US:DRIFT_PPM" — the process's clock reads the real
// clock + OFFSET_US, plus DRIFT_PPM µs per second since the process started,
// and its sleeps last accordingly (the clock_skew fault). In lockstep the
// simulator applies the same skew to the "now" it sends.
inline constexpr const char* kClockSkewEnv = "FAULTLINE_CLOCK_SKEW";
inline constexpr const char* kFreerun = "freerun";

// Message keys.
inline constexpr const char* kHello = "hello";
inline constexpr const char* kYield = "yield";
inline constexpr const char* kItem = "item";
inline constexpr const char* kSleepUs = "sleep_us";
inline constexpr const char* kEvent = "event";
inline constexpr const char* kGo = "go";
inline constexpr const char* kNow = "now";
inline constexpr const char* kBoot = "boot";
inline constexpr const char* kMonoUs = "mono_us";
inline constexpr const char* kSpawned = "spawned";

// Yield points of the reference coordinator, one per step that touches
// shared state. Faults such as crash_at name them.
namespace point {
inline constexpr const char* kClaimLocked = "claim.locked";
inline constexpr const char* kClaimMarked = "claim.marked";
inline constexpr const char* kClaimStateWritten = "claim.state_written";
inline constexpr const char* kRenewLocked = "renew.locked";
inline constexpr const char* kCompleteLocked = "complete.locked";
inline constexpr const char* kCompleteLedgerWritten = "complete.ledger_written";
inline constexpr const char* kCompleteStateWritten = "complete.state_written";
inline constexpr const char* kReleaseLocked = "release.locked";
inline constexpr const char* kReapLocked = "reap.locked";
inline constexpr const char* kReapStateWritten = "reap.state_written";
inline constexpr const char* kHeartbeatLocked = "heartbeat.locked";
inline constexpr const char* kHeartbeatWritten = "heartbeat.written";
inline constexpr const char* kRegisterWritten = "register.written";
inline constexpr const char* kQuarantineMoved = "quarantine.moved";
inline constexpr const char* kLockBusy = "lock.busy";
// The command adapter of external SUTs (docs/external-sut.md) yields before
// each operation's command runs.
inline constexpr const char* kOpRegister = "op.register";
inline constexpr const char* kOpClaim = "op.claim";
inline constexpr const char* kOpProgress = "op.progress";
inline constexpr const char* kOpComplete = "op.complete";
inline constexpr const char* kOpRelease = "op.release";
inline constexpr const char* kOpReap = "op.reap";

// Every point above, for validation and listings.
inline constexpr const char* kAll[] = {
    kClaimLocked,    kClaimMarked,           kClaimStateWritten,     kRenewLocked,
    kCompleteLocked, kCompleteLedgerWritten, kCompleteStateWritten,  kReleaseLocked,
    kReapLocked,     kReapStateWritten,      kHeartbeatLocked,       kHeartbeatWritten,
    kRegisterWritten, kQuarantineMoved,      kLockBusy,              kOpRegister,
    kOpClaim,        kOpProgress,            kOpComplete,            kOpRelease,
    kOpReap};
}  // namespace point

}  // namespace faultline::protocol
