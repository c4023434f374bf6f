#include "coordinator/telemetry_http.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <string>

#include "base/monotonic_clock.h"

namespace swarm::telemetry {
namespace {

// The answer must fit here; a longer header block is a bad answer.
constexpr size_t kMaxHeaderBytes = 16 * 1024;

// Closes the socket on every path.
class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on fd until the deadline: false on timeout.
bool WaitFor(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    const int64_t left = deadline_ms - base::MonotonicMillis();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int rc = poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) return true;  // let the next call report the error
  }
}

PostOutcome Retryable(std::string detail) {
  return {PostOutcome::Kind::kRetryable, std::move(detail)};
}

class HttpTransport final : public Transport {
 public:
  HttpTransport(const Config& config, std::string host, std::string port, std::string path)
      : timeout_ms_(config.timeout_ms),
        host_(std::move(host)),
        port_(std::move(port)),
        path_(std::move(path)) {
    for (const auto& [k, v] : config.headers) extra_headers_ += k + ": " + v + "\r\n";
  }

  PostOutcome Post(const std::string& body) override {
    const int64_t deadline = base::MonotonicMillis() + timeout_ms_;
    int fd = -1;
    PostOutcome failed = Connect(deadline, &fd);
    if (fd < 0) return failed;
    Socket socket(fd);
    const std::string request = fmt::format(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\nConnection: close\r\nUser-Agent: swarm\r\n{}\r\n",
        path_, host_, port_, body.size(), extra_headers_);
    for (const std::string* part : {&request, &body}) {
      size_t sent = 0;
      while (sent < part->size()) {
        if (!WaitFor(fd, POLLOUT, deadline)) return Retryable("request not sent within the timeout");
        // MSG_NOSIGNAL: a collector that hangs up is a failed export, not SIGPIPE.
        ssize_t n = send(fd, part->data() + sent, part->size() - sent, MSG_NOSIGNAL);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) return Retryable("connection closed while sending");
        sent += static_cast<size_t>(n);
      }
    }
    return ReadStatus(fd, deadline);
  }

 private:
  PostOutcome Connect(int64_t deadline, int* out) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host_.c_str(), port_.c_str(), &hints, &found) != 0 || found == nullptr) {
      return Retryable("cannot resolve the collector's host");
    }
    PostOutcome outcome = Retryable("connection refused");
    for (addrinfo* a = found; a != nullptr && *out < 0; a = a->ai_next) {
      int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      int rc = connect(fd, a->ai_addr, a->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        if (!WaitFor(fd, POLLOUT, deadline)) {
          close(fd);
          outcome = Retryable("no connection within the timeout");
          break;
        }
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        rc = err == 0 ? 0 : -1;
        errno = err;
      }
      if (rc == 0) {
        *out = fd;
      } else {
        if (errno != ECONNREFUSED) outcome = Retryable(fmt::format("cannot connect ({})", std::strerror(errno)));
        close(fd);
      }
    }
    freeaddrinfo(found);
    return outcome;
  }

  // Reads up to the end of the answer's status line and headers.
  PostOutcome ReadStatus(int fd, int64_t deadline) {
    std::string answer;
    char chunk[1024];
    while (answer.find("\r\n\r\n") == std::string::npos) {
      if (answer.size() > kMaxHeaderBytes) return Retryable("unreadable answer");
      if (!WaitFor(fd, POLLIN, deadline)) return Retryable("no answer within the timeout");
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n < 0) return Retryable("connection reset without an answer");
      if (n == 0) break;
      answer.append(chunk, static_cast<size_t>(n));
    }
    int status = 0;
    if (std::sscanf(answer.c_str(), "HTTP/%*d.%*d %d", &status) != 1 || status < 100) {
      return Retryable(answer.empty() ? "connection closed without an answer" : "unreadable answer");
    }
    if (status >= 200 && status < 300) return {PostOutcome::Kind::kAccepted, ""};
    const std::string detail = "HTTP " + std::to_string(status);
    if (status == 429 || status == 502 || status == 503 || status == 504) return Retryable(detail);
    return {PostOutcome::Kind::kRejected, detail};
  }

  int64_t timeout_ms_;
  std::string host_;
  std::string port_;
  std::string path_;
  std::string extra_headers_;
};

}  // namespace

std::unique_ptr<Transport> MakeHttpTransport(const Config& config) {
  auto url = ParseUrl(config.traces_url);
  return std::make_unique<HttpTransport>(config, url->host, url->port, url->path);
}

}  // namespace swarm::telemetry
