#include "sim/control_connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "base/fd_io.h"
#include "sim/protocol/control_protocol.h"

namespace faultline {

namespace proto = protocol;

bool ControlConnection::NextMessage(const EventFn& on_event, nlohmann::json* message,
                                    std::string* error) {
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl == std::string::npos) return false;
    std::string line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    *message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!message->is_object()) {
      *error = "not a JSON object: " + line.substr(0, 200);
      return true;
    }
    if (!message->contains(proto::kEvent)) return true;
    const int64_t mono = message->value(proto::kMonoUs, int64_t{0});
    on_event(std::move(message->at(proto::kEvent)), mono);
  }
}

ControlConnection::Read ControlConnection::AwaitPark(int timeout_ms, const EventFn& on_event,
                                                     Parked* parked, std::string* error) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  nlohmann::json m;
  for (;;) {
    while (NextMessage(on_event, &m, error)) {
      if (!error->empty()) return Read::kBadMessage;
      *parked = Parked{};
      if (m.contains(proto::kHello)) {
        parked->kind = Parked::Kind::kHello;
      } else if (m.contains(proto::kYield) && m[proto::kYield].is_string()) {
        parked->kind = Parked::Kind::kYield;
        parked->point = m[proto::kYield].get<std::string>();
        parked->item = m.value(proto::kItem, "");
      } else if (m.contains(proto::kSleepUs) && m[proto::kSleepUs].is_number_integer()) {
        parked->kind = Parked::Kind::kSleep;
        parked->sleep_us = m[proto::kSleepUs].get<int64_t>();
      } else if (m.contains(proto::kSpawned) && m[proto::kSpawned].is_number_integer()) {
        parked->kind = Parked::Kind::kCommand;
        parked->pid = m[proto::kSpawned].get<int64_t>();
      } else {
        *error = "unknown message: " + m.dump().substr(0, 200);
        return Read::kBadMessage;
      }
      return Read::kParked;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return Read::kTimeout;
    pollfd pfd{fd_, POLLIN, 0};
    int rc = poll(&pfd, 1, static_cast<int>(left));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) return Read::kTimeout;
    char chunk[4096];
    ssize_t n = read(fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Read::kClosed;
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

ControlConnection::Read ControlConnection::Drain(const EventFn& on_event, std::string* error) {
  nlohmann::json m;
  for (;;) {
    // Freerun processes send hellos and events only; a hello needs nothing.
    while (NextMessage(on_event, &m, error)) {
      if (!error->empty()) return Read::kBadMessage;
    }
    char chunk[8192];
    ssize_t n = recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Read::kParked;
    if (n <= 0) return Read::kClosed;
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

bool ControlConnection::Go(int64_t now_us, int64_t boot_us) {
  std::string reply = R"({"go":true,"now":)" + std::to_string(now_us);
  if (boot_us != now_us) reply += R"(,"boot":)" + std::to_string(boot_us);
  reply += "}\n";
  return base::SendAll(fd_, reply);
}

}  // namespace faultline
