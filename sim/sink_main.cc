#include "sim/sink_main.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "base/fd_io.h"
#include "sim/protocol/control_protocol.h"

namespace faultline {

using nlohmann::json;

namespace {

bool SendLine(int fd, const json& message) {
  return base::SendAll(fd, message.dump() + "\n");
}

// The simulator's control socket, or -1 when run by hand.
int ControlFd() {
  const char* env = std::getenv(protocol::kCtlFdEnv);
  if (env == nullptr || *env == '\0') return -1;
  char* end = nullptr;
  long fd = std::strtol(env, &end, 10);
  if (*end != '\0' || fd < 0 || fcntl(static_cast<int>(fd), F_GETFD) == -1) return -1;
  fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
  return static_cast<int>(fd);
}

// Serves control messages until the socket closes or `interrupted` is set.
int ServeControl(int fd, SinkServer& server, const std::atomic<bool>* interrupted) {
  std::string buffer;
  for (;;) {
    if (interrupted && interrupted->load()) return 0;
    pollfd p{fd, POLLIN, 0};
    int rc = poll(&p, 1, 200);
    if (rc < 0 && errno != EINTR) return 3;
    if (rc <= 0) continue;
    char chunk[512];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;  // the simulator is gone
    buffer.append(chunk, static_cast<size_t>(n));
    for (size_t nl; (nl = buffer.find('\n')) != std::string::npos;) {
      json msg = json::parse(buffer.substr(0, nl), nullptr, /*allow_exceptions=*/false);
      buffer.erase(0, nl + 1);
      std::optional<CollectorMode> mode;
      if (msg.is_object() && msg.contains(sink_protocol::kMode) &&
          msg[sink_protocol::kMode].is_string()) {
        mode = ParseCollectorMode(msg[sink_protocol::kMode].get<std::string>());
      }
      if (!mode || *mode == CollectorMode::kDown) {
        SendLine(fd,
                 {{sink_protocol::kOk, false}, {"error", "expected {\"mode\": up|503|blackhole}"}});
        continue;
      }
      server.SetMode(*mode);
      SendLine(fd, {{sink_protocol::kOk, true}, {sink_protocol::kMode, Name(*mode)}});
    }
  }
}

}  // namespace

int RunSink(const SinkOptions& o) {
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the sink
  auto server = SinkServer::Start(o.host, o.port, o.record, o.mode);
  if (!server.ok()) {
    std::fprintf(stderr, "faultline sink: %s\n", server.status().message().c_str());
    return 3;
  }
  const int ctl = ControlFd();
  if (ctl >= 0) {
    if (!SendLine(ctl, {{sink_protocol::kReady, {{sink_protocol::kPort, (*server)->port()}}}})) {
      return 3;
    }
    return ServeControl(ctl, **server, o.interrupted);
  }
  std::printf(
      "faultline sink: listening on http://%s:%d/v1/traces (mode %s), recording to %s; "
      "Ctrl-C stops\n",
      o.host.c_str(), (*server)->port(), std::string(Name(o.mode)).c_str(), o.record.c_str());
  std::fflush(stdout);
  while (!(o.interrupted && o.interrupted->load())) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const SinkServer::Counts c = (*server)->counts();
  std::printf("faultline sink: %llu requests, %llu spans recorded (%llu duplicates)\n",
              static_cast<unsigned long long>(c.requests),
              static_cast<unsigned long long>(c.spans_recorded),
              static_cast<unsigned long long>(c.spans_duplicate));
  return 0;
}

}  // namespace faultline
