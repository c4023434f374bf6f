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
//   {"event": {"type": "probe", "name": N, "hit": B}} (no reply; see below)
//   {"spawned": PID, "timeout_ms": T}                {"go": true, "now": US[, "timed_out": true]}
//
// "spawned" (the command adapter with "interleave": "syscalls",
// docs/interposition.md): the sender started PID under the interposition
// library and parks until the simulator has run that command's processes to
// their end; the answer comes once they have all exited. "timeout_ms"
// (optional, > 0) is the command's timeout in simulated time: once that much
// has passed since the spawn (or the command took limits.livelock_steps
// steps) the simulator kills what is left of it, and the answer says
// "timed_out": true.
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
// In a run with a database server (docs/postgres.md) the reply of a process
// whose clock is skewed (the clock_skew fault) also carries "server": the
// server's clock, which is the simulated clock without any process's skew. A
// store that judges leases on its server's clock reads it there; without the
// field it is "boot" (or "now").
//
// In freerun mode (kModeEnv=freerun) nothing is ever answered: the process
// runs on real time, its yield points are inert, and it only sends "hello"
// and "event" messages; every event carries "mono_us", the sender's
// CLOCK_MONOTONIC in microseconds. A complete write() is in the socket buffer
// and reaches the sim even if the sender is SIGKILLed right after it.
//
// Probes (docs/protocol.md): an event of type kProbeEvent says the sender
// reached the named point of its code ("hit": true), or evaluated a
// "sometimes" condition there ("hit": the condition). The simulator counts
// probes for the verdict and never writes them to the trace, so a program
// may add probes without changing any trace or its hash.
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
// Lockstep only: the yield points (comma-separated, from point::kOwnState)
// this process may pass without parking: it sends no "yield" there and goes
// on as if answered at once, its clock unchanged. Every other point, and
// every sleep, parks as before. A process that ignores the variable parks at
// every point, which is equally correct (only slower).
inline constexpr const char* kPassPointsEnv = "FAULTLINE_PASS_POINTS";

inline constexpr const char* kProbeEvent = "probe";
// A command run by the command adapter reports a probe with a line
// "faultline-probe: NAME" on its stderr (docs/external-sut.md).
inline constexpr const char* kProbeLinePrefix = "faultline-probe: ";

// Message keys.
inline constexpr const char* kHello = "hello";
inline constexpr const char* kYield = "yield";
inline constexpr const char* kItem = "item";
inline constexpr const char* kSleepUs = "sleep_us";
inline constexpr const char* kEvent = "event";
inline constexpr const char* kGo = "go";
inline constexpr const char* kNow = "now";
inline constexpr const char* kBoot = "boot";
inline constexpr const char* kServer = "server";
inline constexpr const char* kMonoUs = "mono_us";
inline constexpr const char* kSpawned = "spawned";
inline constexpr const char* kTimeoutMs = "timeout_ms";
inline constexpr const char* kTimedOut = "timed_out";

// The history events a controlled process may send (docs/protocol.md): a
// closed set. Every other type is the harness's own (run_start, spawn, exit,
// fault, run_end, ...) or unknown, and the harness refuses the line; so are
// events that set a field the harness writes itself (kHarnessFields).
inline constexpr const char* kAgentEventTypes[] = {
    "register", "refused", "heartbeat", "agent_dead", "agent_back", "claim_ok", "renew_ok",
    "effect", "effect_present", "complete_ok", "renew_rejected", "complete_rejected",
    "release_rejected", "release", "takeover", "lease_expired", "dead_letter",
    "complete_recovered", "quarantine", "drift_seen", "halt_seen", "reap", "reaper_start",
    "storage_error", "storage_unsynced", "holding_lost", "claim_contended", "claim_race_lost",
    "lock_timeout", "model_call", "model_backoff", "span_created", "span_exported",
    "span_spooled", "span_dropped", "sut_command_failed", "command_crashed", "probe",
    "submit_ok"};
inline constexpr const char* kHarnessFields[] = {"seq", "t", "proc"};

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
// `swarm submit --items` run as a submitter of the run (work arrivals): after
// it has listed the items (where its search for free ids starts), and before
// each create-once write of an id (the item is the id).
inline constexpr const char* kSubmitListed = "submit.listed";
inline constexpr const char* kSubmitCreate = "submit.create";
// The command adapter of external SUTs (docs/external-sut.md) yields before
// each operation's command runs.
inline constexpr const char* kOpRegister = "op.register";
inline constexpr const char* kOpClaim = "op.claim";
inline constexpr const char* kOpProgress = "op.progress";
inline constexpr const char* kOpComplete = "op.complete";
inline constexpr const char* kOpRelease = "op.release";
inline constexpr const char* kOpReap = "op.reap";

// Points of a step that touches only the process's own state: a heartbeat
// locks, reads and rewrites the agent's own record (the reaper reads that
// record without its lock, and takes the lock only to mark the agent dead).
// In lockstep the simulator may let a process pass them without parking
// (kPassPointsEnv, docs/determinism.md, "Performance"): the heartbeat is then
// one step with the wake-up before it, not three.
inline constexpr const char* kOwnState[] = {kHeartbeatLocked, kHeartbeatWritten};

// Every point above, for validation and listings.
inline constexpr const char* kAll[] = {
    kClaimLocked,    kClaimMarked,           kClaimStateWritten,     kRenewLocked,
    kCompleteLocked, kCompleteLedgerWritten, kCompleteStateWritten,  kReleaseLocked,
    kReapLocked,     kReapStateWritten,      kHeartbeatLocked,       kHeartbeatWritten,
    kRegisterWritten, kQuarantineMoved,      kLockBusy,              kSubmitListed,
    kSubmitCreate,   kOpRegister,            kOpClaim,               kOpProgress,
    kOpComplete,     kOpRelease,             kOpReap};
}  // namespace point

// Probes of the reference coordinator, one per transition docs/coordinator.md
// names (and the outcomes worth reaching); scenarios name them in "expect".
namespace probe {
inline constexpr const char* kClaimGranted = "claim.granted";
inline constexpr const char* kClaimBusy = "claim.busy";
inline constexpr const char* kClaimSkillConflict = "claim.skill_conflict";
inline constexpr const char* kTakeoverAfterExpiry = "takeover.after_expiry";
inline constexpr const char* kClaimDeadLetter = "claim.dead_letter";
inline constexpr const char* kTakeoverRecovered = "takeover.recovered";
inline constexpr const char* kRenewOk = "renew.ok";
inline constexpr const char* kRenewStale = "renew.stale";
inline constexpr const char* kCompleteOk = "complete.ok";
inline constexpr const char* kCompleteStale = "complete.stale_token";
inline constexpr const char* kCompleteEffectPresent = "complete.effect_present";
inline constexpr const char* kReleaseOk = "release.ok";
inline constexpr const char* kExpirePending = "expire.pending";
inline constexpr const char* kExpireDead = "expire.dead";
inline constexpr const char* kExpireDone = "expire.done";
inline constexpr const char* kQuarantineItem = "quarantine.item";
inline constexpr const char* kQuarantineAgent = "quarantine.agent";
inline constexpr const char* kRegisterOk = "register.ok";
inline constexpr const char* kRegisterRefused = "register.refused";
inline constexpr const char* kHeartbeatOk = "heartbeat.ok";
inline constexpr const char* kHeartbeatDrift = "heartbeat.drift";
inline constexpr const char* kHeartbeatHoldingLost = "heartbeat.holding_lost";
inline constexpr const char* kDeclareDead = "reap.declare_dead";
inline constexpr const char* kAgentBack = "reap.agent_back";
inline constexpr const char* kStorageError = "storage.error";
inline constexpr const char* kHaltSeen = "halt.seen";
inline constexpr const char* kModelBackoff = "model.backoff";
inline constexpr const char* kSubmitIdTaken = "submit.id_taken";

// Every probe of the reference coordinator: what a suite of reference runs
// is measured against ("which probes did no scenario reach").
inline constexpr const char* kAll[] = {
    kClaimGranted,          kClaimBusy,          kClaimSkillConflict,
    kTakeoverAfterExpiry, kClaimDeadLetter,  kTakeoverRecovered,  kRenewOk,
    kRenewStale,        kCompleteOk,            kCompleteStale,      kCompleteEffectPresent,
    kReleaseOk,         kExpirePending,         kExpireDead,         kExpireDone,
    kQuarantineItem,    kQuarantineAgent,       kRegisterOk,         kRegisterRefused,
    kHeartbeatOk,       kHeartbeatDrift,        kHeartbeatHoldingLost, kDeclareDead,
    kAgentBack,         kStorageError,          kHaltSeen,           kModelBackoff,
    kSubmitIdTaken};

// Probes of the command adapter (sim/sut/adapter.cc): what each operation of
// an adapter-run system came to, whatever the system is.
inline constexpr const char* kOpClaimGranted = "op.claim.granted";
inline constexpr const char* kOpClaimContended = "op.claim.contended";
inline constexpr const char* kOpClaimEmpty = "op.claim.empty";
inline constexpr const char* kOpRenewOk = "op.renew.ok";
inline constexpr const char* kOpRenewRejected = "op.renew.rejected";
inline constexpr const char* kOpCompleteOk = "op.complete.ok";
inline constexpr const char* kOpCompleteRejected = "op.complete.rejected";
inline constexpr const char* kOpReleaseOk = "op.release.ok";
inline constexpr const char* kOpReapOk = "op.reap.ok";
inline constexpr const char* kOpCommandFailed = "op.command_failed";
inline constexpr const char* kAdapterAll[] = {
    kOpClaimGranted, kOpClaimContended,   kOpClaimEmpty, kOpRenewOk, kOpRenewRejected,
    kOpCompleteOk,   kOpCompleteRejected, kOpReleaseOk,  kOpReapOk,  kOpCommandFailed};

// The simulator's own probes: "fault.KIND.landed" each time a fault lands,
// and kCollision when a process parks at a yield point on an item another
// live process is parked at too (a storm or race really collided; lockstep).
inline constexpr const char* kFaultLandedPrefix = "fault.";
inline constexpr const char* kFaultLandedSuffix = ".landed";
inline constexpr const char* kCollision = "sim.collision";
}  // namespace probe

}  // namespace faultline::protocol
