// The simulator's side of one controlled process's control channel
// (sim/protocol/control_protocol.h): reads its messages, knows where it is
// parked, and lets it go.
//
// The protocol is strict (docs/protocol.md, "What faultline refuses"): every
// line is checked by ParseControlLine before anything of it reaches the
// trace, and a process that breaks a rule gets kBadMessage with a message
// that says what it sent. Limits: a line is at most kMaxLineBytes, a JSON
// value nests at most kMaxControlDepth deep.
//
// Thread-compatible. Does not own the socket fd: the ProcessSet that spawned
// the process does (ProcessSet::CloseControl).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace faultline {

// Where a lockstep process waits for the simulator.
struct Parked {
  // kCommand: said "spawned"; waits until the command's processes ended.
  enum class Kind { kNone, kHello, kYield, kSleep, kCommand };
  Kind kind = Kind::kNone;
  std::string point;  // kYield: the yield point
  std::string item;   // kYield: the item it concerns ("" if none)
  int64_t sleep_us = 0;
  int64_t pid = 0;         // kCommand: the command's pid
  int64_t timeout_ms = 0;  // kCommand: its timeout in simulated time, 0 none
};

// One line a controlled process sent, checked.
struct ControlMessage {
  enum class Kind { kHello, kYield, kSleep, kCommand, kEvent };
  Kind kind = Kind::kEvent;
  Parked parked;         // kHello, kYield, kSleep, kCommand
  nlohmann::json event;  // kEvent: the event object (its "type" is an agent event type)
  int64_t mono_us = 0;   // kEvent: the sender's mono_us, 0 if none
};

inline constexpr size_t kMaxLineBytes = size_t{1} << 20;
inline constexpr int kMaxControlDepth = 32;
// The longest sleep a process may ask for: one simulated year.
inline constexpr int64_t kMaxSleepUs = int64_t{365} * 24 * 3600 * 1000 * 1000;

// Parses and checks one line (without its '\n'). False with `error` saying
// what is wrong (quoting a bounded, escaped excerpt of the line) when it is
// not exactly one of the messages of the protocol: valid UTF-8, a JSON object
// nested at most kMaxControlDepth deep, one message key with a value of its type, an
// event whose "type" is one of protocol::kAgentEventTypes and that sets none
// of the harness's own fields (seq, t, proc), no NUL in any string.
bool ParseControlLine(std::string_view line, ControlMessage* out, std::string* error);

// `text` cut to `max` bytes with control bytes and invalid UTF-8 escaped: safe
// to put into an error message or a JSON string.
std::string Excerpt(std::string_view text, size_t max = 200);

class ControlConnection {
 public:
  explicit ControlConnection(int fd) : fd_(fd) {}
  ControlConnection(const ControlConnection&) = delete;
  ControlConnection& operator=(const ControlConnection&) = delete;

  // An event message: the event object and the sender's mono_us (0 if none).
  using EventFn = std::function<void(nlohmann::json event, int64_t mono_us)>;

  enum class Read { kParked, kClosed, kTimeout, kBadMessage, kInterrupted, kAbandoned };
  // Lockstep: reads until the process parks (hello, yield, sleep or spawned), handing
  // every event to `on_event` in order. kTimeout after `timeout_ms` of wall
  // time without parking; kClosed at end of file (the process is gone, or
  // closed its channel: the caller tells which). kBadMessage for a line
  // ParseControlLine refuses, a second hello, a line longer than
  // kMaxLineBytes, or anything sent after the parking message before the
  // answer (a process waits for "go"). kInterrupted as soon as `interrupted`
  // (if not null; set by SIGINT/SIGTERM) is seen set, at most 100 ms late.
  // kAbandoned once `*abandon` (if not null) is set, e.g. by `on_event` when
  // the run has failed and nothing more the process says counts: checked
  // after each chunk read, so a process that floods events without parking
  // cannot hold the caller until the timeout.
  Read AwaitPark(int timeout_ms, const EventFn& on_event, Parked* parked, std::string* error,
                 const std::atomic<bool>* interrupted = nullptr, const bool* abandon = nullptr);
  // Freerun: reads what is available now without blocking (at most
  // kMaxLineBytes per call, so that a flood cannot hold the caller); the
  // first hello is skipped. kClosed at end of file, kBadMessage as above
  // (yields and sleeps are not sent in freerun), else kParked (meaning:
  // drained for now).
  Read Drain(const EventFn& on_event, std::string* error);
  // Answers the parked process: its wall clock reads `now_us`, its boot clock
  // `boot_us` (sent only when it differs, control_protocol.h), the database
  // server's clock `server_us` (sent only when it differs from `boot_us`: the
  // process's clock is skewed in a run with a server); `timed_out`: the
  // command it said "spawned" for was ended at its timeout.
  bool Go(int64_t now_us, int64_t boot_us, int64_t server_us, bool timed_out = false);

  int fd() const { return fd_; }

 private:
  // Hands buffered event messages to `on_event` until a message that is not
  // an event: returns true with it in `message` (or with `error` set for a
  // line that breaks the protocol); false when no complete line is left.
  bool NextMessage(const EventFn& on_event, ControlMessage* message, std::string* error);
  // Appends what one read returned; false (with `error`) when the line being
  // assembled grows beyond kMaxLineBytes.
  bool Append(const char* data, size_t n, std::string* error);
  // AwaitPark waits in read(), bounded by SO_RCVTIMEO: sets it to `ms`
  // unless it is already; false where the fd takes none (then it polls).
  // Only AwaitPark reads with it set: Drain reads with MSG_DONTWAIT.
  bool SetReceiveTimeout(int64_t ms);
  static constexpr int64_t kNoReceiveTimeout = -2;
  int fd_;
  int64_t receive_timeout_ms_ = -1;  // -1: not set yet
  std::string buffer_;
  size_t scanned_ = 0;  // bytes of buffer_ known to hold no '\n'
  bool hello_seen_ = false;
};

}  // namespace faultline
