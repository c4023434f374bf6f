// base::WriteAll / base::SendAll: every byte arrives in order even when the
// kernel takes a little at a time and signals interrupt the calls; failures
// come back as false with errno, and a vanished peer never raises SIGPIPE.
#include "base/fd_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>
#include <thread>

namespace base {
namespace {

std::atomic<int> g_interrupts{0};
void CountInterrupt(int) { g_interrupts.fetch_add(1); }

// Installs `handler` for `sig` without SA_RESTART (so a blocked write returns
// early) and restores the previous action when it goes out of scope.
class ScopedHandler {
 public:
  ScopedHandler(int sig, void (*handler)(int)) : sig_(sig) {
    struct sigaction sa {};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(sig_, &sa, &old_);
  }
  ~ScopedHandler() { sigaction(sig_, &old_, nullptr); }

 private:
  int sig_;
  struct sigaction old_ {};
};

class SocketPair {
 public:
  SocketPair() {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_) != 0) fds_[0] = fds_[1] = -1;
  }
  ~SocketPair() {
    Close(0);
    Close(1);
  }
  int operator[](int i) const { return fds_[i]; }
  void Close(int i) {
    if (fds_[i] >= 0) close(fds_[i]);
    fds_[i] = -1;
  }

 private:
  int fds_[2];
};

std::string Pattern(size_t size) {
  std::string data(size, '\0');
  uint32_t x = 2463534242u;  // xorshift: no two nearby chunks look alike
  for (char& c : data) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return data;
}

// Reads `fd` to end of file; after each read, interrupts `writer` (if still
// writing) so that its blocked call returns with what it has sent so far.
std::string ReadAllInterrupting(int fd, pthread_t writer, const std::atomic<bool>& writing) {
  std::string got;
  char chunk[1024];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(chunk, static_cast<size_t>(n));
    if (writing.load()) pthread_kill(writer, SIGUSR1);
  }
  return got;
}

void RunLargeTransfer(bool use_send) {
  SocketPair pair;
  ASSERT_GE(pair[0], 0) << strerror(errno);
  const int small = 4096;
  ASSERT_EQ(setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
  ASSERT_EQ(setsockopt(pair[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  ScopedHandler handler(SIGUSR1, CountInterrupt);
  g_interrupts = 0;

  const std::string data = Pattern(4 << 20);
  std::atomic<bool> writing{true};
  bool ok = false;
  int err = 0;
  std::thread writer([&] {
    ok = use_send ? SendAll(pair[0], data) : WriteAll(pair[0], data);
    err = errno;
    writing = false;
    pair.Close(0);  // end of file for the reader
  });
  const std::string got = ReadAllInterrupting(pair[1], writer.native_handle(), writing);
  writer.join();

  EXPECT_TRUE(ok) << strerror(err);
  ASSERT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data) << "the bytes arrived changed or out of order";
  // The writer was blocked on a full 4 KiB buffer most of the time; the
  // signals must have cut its calls short, or the test proved nothing.
  EXPECT_GT(g_interrupts.load(), 0);
}

TEST(FdIoTest, WriteAllDeliversALargeBufferThroughASmallSocketBuffer) {
  RunLargeTransfer(/*use_send=*/false);
}

TEST(FdIoTest, SendAllDeliversALargeBufferThroughASmallSocketBuffer) {
  RunLargeTransfer(/*use_send=*/true);
}

TEST(FdIoTest, SendAllToAVanishedPeerFailsWithEpipeAndNoSigpipe) {
  // With the default action, a SIGPIPE would end this test binary.
  ScopedHandler dfl(SIGPIPE, SIG_DFL);
  SocketPair pair;
  ASSERT_GE(pair[0], 0);
  pair.Close(1);
  errno = 0;
  EXPECT_FALSE(SendAll(pair[0], "are you there?\n"));
  EXPECT_EQ(errno, EPIPE);
}

TEST(FdIoTest, SendAllWritesToAPipeInsteadOfASocket) {
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  EXPECT_TRUE(SendAll(p[1], "through a pipe\n"));
  close(p[1]);
  char buf[64] = {};
  ssize_t n = read(p[0], buf, sizeof buf);
  close(p[0]);
  EXPECT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), "through a pipe\n");
}

TEST(FdIoTest, FailureReportsTheCallsErrno) {
  errno = 0;
  EXPECT_FALSE(WriteAll(-1, "x"));
  EXPECT_EQ(errno, EBADF);
  errno = 0;
  EXPECT_FALSE(SendAll(-1, "x"));
  EXPECT_EQ(errno, EBADF);
}

TEST(FdIoTest, ANonBlockingDescriptorThatIsFullFailsWithEagain) {
  SocketPair pair;
  ASSERT_GE(pair[0], 0);
  ASSERT_EQ(fcntl(pair[0], F_SETFL, O_NONBLOCK), 0);
  errno = 0;
  EXPECT_FALSE(WriteAll(pair[0], Pattern(8 << 20)));
  EXPECT_EQ(errno, EAGAIN);
}

TEST(FdIoTest, NothingToWriteSucceedsWithoutACall) {
  EXPECT_TRUE(WriteAll(-1, ""));
  EXPECT_TRUE(SendAll(-1, ""));
}

}  // namespace
}  // namespace base
