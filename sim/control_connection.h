// The simulator's side of one controlled process's control channel
// (sim/protocol/control_protocol.h): reads its messages, knows where it is
// parked, and lets it go.
//
// Thread-compatible. Does not own the socket fd: the ProcessSet that spawned
// the process does (ProcessSet::CloseControl).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace faultline {

// Where a lockstep process waits for the simulator.
struct Parked {
  // kCommand: said "spawned"; waits until the command's processes ended.
  enum class Kind { kNone, kHello, kYield, kSleep, kCommand };
  Kind kind = Kind::kNone;
  std::string point;  // kYield: the yield point
  std::string item;   // kYield: the item it concerns ("" if none)
  int64_t sleep_us = 0;
  int64_t pid = 0;  // kCommand: the command's pid
};

class ControlConnection {
 public:
  explicit ControlConnection(int fd) : fd_(fd) {}
  ControlConnection(const ControlConnection&) = delete;
  ControlConnection& operator=(const ControlConnection&) = delete;

  // An event message: the event object and the sender's mono_us (0 if none).
  using EventFn = std::function<void(nlohmann::json event, int64_t mono_us)>;

  enum class Read { kParked, kClosed, kTimeout, kBadMessage };
  // Lockstep: reads until the process parks (hello, yield, sleep or spawned), handing
  // every event to `on_event` in order. kTimeout after `timeout_ms` of wall
  // time without parking; kClosed at end of file (the process is gone).
  Read AwaitPark(int timeout_ms, const EventFn& on_event, Parked* parked, std::string* error);
  // Freerun: reads what is available now without blocking; hellos are
  // skipped. kClosed at end of file, else kParked (meaning: drained).
  Read Drain(const EventFn& on_event, std::string* error);
  // Answers the parked process: its wall clock reads `now_us`, its boot clock
  // `boot_us` (sent only when it differs, control_protocol.h).
  bool Go(int64_t now_us, int64_t boot_us);

  int fd() const { return fd_; }

 private:
  // Hands buffered event messages to `on_event` until a message that is not
  // an event: returns true with it in `message` (or with `error` set for a
  // line that is not a JSON object); false when no complete line is left.
  bool NextMessage(const EventFn& on_event, nlohmann::json* message, std::string* error);
  int fd_;
  std::string buffer_;
};

}  // namespace faultline
