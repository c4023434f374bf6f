// Writing a whole buffer to a file descriptor: the loop that retries after
// EINTR and continues after a partial write.
//
// Both functions are async-signal-safe (no allocation, no locks), so a child
// between fork and exec may call them. They return true once every byte of
// `data` is written; false on the first failing call, with errno saying why
// (EIO when a call wrote nothing and reported no error). What was written
// before the failure stays written: a caller that must not leave a partial
// record behind undoes it itself.
#pragma once

#include <string_view>

namespace base {

// write(2) until done. Blocks as the descriptor blocks; on a non-blocking
// descriptor EAGAIN is a failure like any other.
bool WriteAll(int fd, std::string_view data);

// send(2) with MSG_NOSIGNAL until done: a peer that hung up is a false
// return (EPIPE), never a SIGPIPE. A descriptor that is not a socket (a pipe
// handed over in its place) gets write(2) instead, which can raise SIGPIPE.
bool SendAll(int fd, std::string_view data);

}  // namespace base
