#include "base/status.h"

#include <cerrno>
#include <cstring>

namespace base {

Status Status::FromErrno(int err, std::string_view context) {
  std::string msg = std::string(context) + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return NotFound(std::move(msg));
    case ENOSPC:
    case EDQUOT:
      return NoSpace(std::move(msg));
    case EWOULDBLOCK:
      return Busy(std::move(msg));
    case EINVAL:
    case ENAMETOOLONG:
      return InvalidArgument(std::move(msg));
    default:
      return IOError(std::move(msg));
  }
}

std::string_view Status::CodeName() const { return base::CodeName(code_); }

std::string_view CodeName(Status::Code code) {
  using Code = Status::Code;
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kNotFound:
      return "not_found";
    case Code::kBusy:
      return "busy";
    case Code::kConflict:
      return "conflict";
    case Code::kStaleToken:
      return "stale_token";
    case Code::kHalted:
      return "halted";
    case Code::kConfigMismatch:
      return "config_mismatch";
    case Code::kCorrupt:
      return "corrupt";
    case Code::kNoSpace:
      return "no_space";
    case Code::kIOError:
      return "io_error";
    case Code::kInvalidArgument:
      return "invalid_argument";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName()) + ": " + message_;
}

}  // namespace base
