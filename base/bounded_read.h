// Reading files whose path comes from outside (a scenario, a run directory,
// a SUT's state files) without trusting what the path names: a directory, a
// FIFO, a device such as /dev/zero or a huge file is refused with a message,
// never waited on or read without end.
#pragma once

#include <cstddef>
#include <string>

#include "base/status.h"

namespace base {

// The whole content of `path` if it is a regular file (symbolic links
// followed) of at most `max_bytes`. The open never blocks (O_NONBLOCK: a
// FIFO without a writer is refused, not waited for). Errors: kNotFound when
// missing; kInvalidArgument for a directory, FIFO, device or socket ("is a
// directory", "is a FIFO", ...) or a file larger than `max_bytes` ("is 123
// bytes, more than the 100 accepted"); kIOError otherwise (strerror). The
// messages do not name the path: the caller says which file it wanted.
Result<std::string> ReadRegularFile(const std::string& path, size_t max_bytes);

// Ok when `path` is a regular file that can be opened for reading (the
// stream readers of large files check this first); else as above.
Status CheckRegularFile(const std::string& path);

}  // namespace base
