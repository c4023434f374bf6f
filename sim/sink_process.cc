#include "sim/sink_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/monotonic_clock.h"

namespace faultline {

SinkProcess::SinkProcess(ProcessSet* processes, std::vector<std::string> command,
                         std::string record_path, std::string log_path, int64_t timeout_ms)
    : processes_(processes),
      command_(std::move(command)),
      record_path_(std::move(record_path)),
      log_path_(std::move(log_path)),
      timeout_ms_(timeout_ms) {}

SinkProcess::~SinkProcess() { Stop(); }

std::string SinkProcess::Endpoint() const { return fmt::format("http://127.0.0.1:{}", port_); }

base::Status SinkProcess::Start() { return Spawn(0, CollectorMode::kUp); }

base::Status SinkProcess::Spawn(int port, CollectorMode mode) {
  SpawnSpec spec;
  spec.id = "sink";
  spec.argv = command_;
  for (std::string arg : {std::string("--port"), std::to_string(port), std::string("--record"),
                          record_path_, std::string("--mode"), std::string(Name(mode))}) {
    spec.argv.push_back(std::move(arg));
  }
  spec.log_path = log_path_;
  spec.control_channel = true;
  auto child = processes_->Spawn(spec);
  if (!child.ok()) return child.status();
  pid_ = child->pid;
  ctl_fd_ = child->ctl_fd;
  buffer_.clear();
  std::string line;
  base::Status s = ReadLine(&line);
  nlohmann::json ready = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (s.ok() && !(ready.is_object() && ready.contains(sink_protocol::kReady))) {
    s = base::Status::IOError("the sink said '" + line + "' instead of ready");
  }
  if (!s.ok()) {
    Stop();
    return base::Status::IOError(
        fmt::format("the collector (faultline sink) did not start: {} "
                    "(see {})",
                    s.message(), log_path_));
  }
  port_ = ready[sink_protocol::kReady].value(sink_protocol::kPort, 0);
  mode_ = mode;
  return base::Status::Ok();
}

base::Status SinkProcess::SetMode(CollectorMode mode) {
  if (mode == mode_) return base::Status::Ok();
  if (mode == CollectorMode::kDown) {
    Stop();
    return base::Status::Ok();
  }
  if (mode_ == CollectorMode::kDown) return Spawn(port_, mode);
  nlohmann::json msg = {{sink_protocol::kMode, Name(mode)}};
  std::string text = msg.dump() + "\n";
  if (send(ctl_fd_, text.data(), text.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) {
    return base::Status::IOError("cannot reach the collector (faultline sink) to switch it to " +
                                 std::string(Name(mode)));
  }
  std::string line;
  BASE_RETURN_IF_ERROR(ReadLine(&line));
  nlohmann::json reply = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!reply.is_object() || !reply.value(sink_protocol::kOk, false)) {
    return base::Status::IOError("the collector refused mode " + std::string(Name(mode)) + ": " +
                                 line);
  }
  mode_ = mode;
  return base::Status::Ok();
}

void SinkProcess::Stop() {
  if (pid_ > 0) {
    processes_->Signal(pid_, SIGKILL);
    processes_->Wait(pid_);
    processes_->CloseControl(pid_);
  }
  pid_ = -1;
  ctl_fd_ = -1;
  mode_ = CollectorMode::kDown;
}

base::Status SinkProcess::ReadLine(std::string* line) {
  const int64_t deadline = base::MonotonicMillis() + timeout_ms_;
  for (;;) {
    const size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      *line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return base::Status::Ok();
    }
    const int64_t left = deadline - base::MonotonicMillis();
    if (left <= 0) {
      return base::Status::IOError(fmt::format("no answer within {} ms", timeout_ms_));
    }
    pollfd p{ctl_fd_, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;
    char chunk[512];
    ssize_t n = read(ctl_fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return base::Status::IOError("it exited");
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

}  // namespace faultline
