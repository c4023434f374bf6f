// Errors as values at module boundaries (STYLE.md 4).
//
// A Status is ok or carries a code and a message that says what failed and
// where ("writing items/w7.json: No space left on device"). Result<T> is a
// value or a Status, shaped like std::expected (which GCC 12 lacks).
//
// Part of base/, the leaf library both the harness and the coordinator use;
// it depends on nothing of the project. The coordinator names these types
// unqualified through coordinator/status.h.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace base {

class Status {
 public:
  enum class Code {
    kOk,
    kNotFound,         // the thing named does not exist
    kBusy,             // someone else holds the lock right now; retry later
    kConflict,         // the item is not claimable (owned, done, dead)
    kStaleToken,       // fencing: the token is no longer the item's current one
    kHalted,           // the HALT file is present
    kConfigMismatch,   // fingerprint differs from cluster.json
    kCorrupt,          // a state file does not parse
    kNoSpace,          // ENOSPC / EDQUOT
    kIOError,          // any other system call failure
    kInvalidArgument,  // bad input from the caller
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status Busy(std::string msg) { return {Code::kBusy, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {Code::kConflict, std::move(msg)}; }
  static Status StaleToken(std::string msg) { return {Code::kStaleToken, std::move(msg)}; }
  static Status Halted(std::string msg) { return {Code::kHalted, std::move(msg)}; }
  static Status ConfigMismatch(std::string msg) { return {Code::kConfigMismatch, std::move(msg)}; }
  static Status Corrupt(std::string msg) { return {Code::kCorrupt, std::move(msg)}; }
  static Status NoSpace(std::string msg) { return {Code::kNoSpace, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  static Status InvalidArgument(std::string msg) {
    return {Code::kInvalidArgument, std::move(msg)};
  }

  // Maps errno to a code in one place; `context` says what was being done.
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;
  // Short lower-case name of the code ("no_space"), used in events.
  std::string_view CodeName() const;

  bool IsBusy() const { return code_ == Code::kBusy; }
  bool IsNoSpace() const { return code_ == Code::kNoSpace; }
  bool IsStorageError() const { return code_ == Code::kNoSpace || code_ == Code::kIOError; }

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Short lower-case name of a code ("no_space").
std::string_view CodeName(Status::Code code);

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok());
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace base

// Returns the Status of `expr` from the enclosing function unless it is ok.
#define BASE_RETURN_IF_ERROR(expr) \
  do {                             \
    ::base::Status _s = (expr);    \
    if (!_s.ok()) return _s;       \
  } while (0)
