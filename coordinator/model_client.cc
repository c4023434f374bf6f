#include "coordinator/model_client.h"

#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/monotonic_clock.h"
#include "coordinator/telemetry_config.h"

namespace swarm::model {
namespace {

// The answer's status line and headers must fit here.
constexpr size_t kMaxHeaderBytes = 16 * 1024;
constexpr const char* kNoAnswer = "no answer within the timeout";

}  // namespace

Status ParseBackoff(const std::string& text, Settings* settings) {
  long long lo = 0, hi = 0;
  char sep = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%lld%c%lld%c", &lo, &sep, &hi, &extra) != 3 || sep != ':') {
    return Status::InvalidArgument("--model-backoff-ms \"" + text +
                                   "\": expected A:B (initial:max milliseconds)");
  }
  settings->backoff_initial_ms = lo;
  settings->backoff_max_ms = hi;
  return Status::Ok();
}

Status Validate(const Settings& s) {
  auto url = telemetry::ParseUrl(s.endpoint);
  if (!url.ok()) return Status::InvalidArgument("--model-endpoint: " + url.status().message());
  if (s.timeout_ms < 1 || s.timeout_ms > 3'600'000) {
    return Status::InvalidArgument(
        fmt::format("--model-timeout-ms {}: expected 1..3600000", s.timeout_ms));
  }
  if (s.backoff_initial_ms < 1 || s.backoff_max_ms < s.backoff_initial_ms ||
      s.backoff_max_ms > 3'600'000) {
    return Status::InvalidArgument(fmt::format(
        "--model-backoff-ms {}:{}: expected A:B with 1 <= A <= B <= 3600000",
        s.backoff_initial_ms, s.backoff_max_ms));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// ModelRequest

ModelRequest::ModelRequest(const std::string& host, const std::string& port,
                           const std::string& path, const std::string& body) {
  out_ = fmt::format(
      "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\nConnection: close\r\nUser-Agent: swarm\r\n\r\n{}",
      path, host, port, body.size(), body);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
    Settle(false, "cannot resolve the model's host");
    return;
  }
  // The first address only: a loopback stub or a local gateway.
  fd_ = socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
               found->ai_protocol);
  if (fd_ < 0) {
    freeaddrinfo(found);
    Settle(false, fmt::format("cannot open a socket ({})", std::strerror(errno)));
    return;
  }
  const int rc = connect(fd_, found->ai_addr, found->ai_addrlen);
  const int err = errno;
  freeaddrinfo(found);
  if (rc == 0) {
    phase_ = Phase::kSending;
  } else if (err != EINPROGRESS) {
    Settle(false, err == ECONNREFUSED ? "connection refused"
                                      : fmt::format("cannot connect ({})", std::strerror(err)));
  }
}

ModelRequest::~ModelRequest() {
  if (fd_ >= 0) close(fd_);
}

void ModelRequest::Settle(bool ok, std::string error) {
  settled_ = true;
  outcome_.ok = ok;
  outcome_.error = std::move(error);
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

bool ModelRequest::Await(int64_t wait_ms) {
  const int64_t deadline = base::MonotonicMillis() + std::max<int64_t>(wait_ms, 0);
  while (!settled_ && Step(deadline)) {
  }
  return settled_;
}

// One move of the request: false when it must wait past the deadline.
bool ModelRequest::Step(int64_t deadline_ms) {
  const short events = phase_ == Phase::kReading ? POLLIN : POLLOUT;
  pollfd p{fd_, events, 0};
  const int rc =
      poll(&p, 1, static_cast<int>(std::max<int64_t>(deadline_ms - base::MonotonicMillis(), 0)));
  if (rc < 0 && errno == EINTR) return true;
  if (rc == 0) return false;
  switch (phase_) {
    case Phase::kConnecting: {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        Settle(false, err == ECONNREFUSED ? "connection refused"
                                          : fmt::format("cannot connect ({})", std::strerror(err)));
      } else {
        phase_ = Phase::kSending;
      }
      return true;
    }
    case Phase::kSending: {
      const ssize_t n = send(fd_, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
      if (n < 0) {
        Settle(false, "connection closed while sending");
        return true;
      }
      sent_ += static_cast<size_t>(n);
      if (sent_ == out_.size()) phase_ = Phase::kReading;
      return true;
    }
    case Phase::kReading: {
      char chunk[1024];
      const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
      if (n < 0) {
        Settle(false, "connection reset without an answer");
        return true;
      }
      if (n > 0) in_.append(chunk, static_cast<size_t>(n));
      if (n > 0 && in_.find("\r\n\r\n") == std::string::npos && in_.size() <= kMaxHeaderBytes) {
        return true;
      }
      // The status line is in (or the peer closed): the outcome is known.
      int status = 0;
      if (std::sscanf(in_.c_str(), "HTTP/%*d.%*d %d", &status) != 1 || status < 100) {
        Settle(false, in_.empty() ? "connection closed without an answer" : "unreadable answer");
      } else if (status >= 200 && status < 300) {
        Settle(true, "");
      } else {
        Settle(false, fmt::format("HTTP {}", status));
      }
      return true;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// ModelCaller

ModelCaller::ModelCaller(Settings settings, Clock* clock, Probe* probe)
    : settings_(std::move(settings)), clock_(clock), probe_(probe) {
  auto url = telemetry::ParseUrl(settings_.endpoint);
  host_ = url->host;
  port_ = url->port;
  std::string base = url->path;
  while (!base.empty() && base.back() == '/') base.pop_back();
  path_ = base + kModelPath;
}

std::unique_ptr<ModelRequest> ModelCaller::Begin(std::string_view agent,
                                                 std::string_view item) const {
  const std::string body = nlohmann::json{{"agent", agent}, {"item", item}}.dump();
  return std::make_unique<ModelRequest>(host_, port_, path_, body);
}

Outcome ModelCaller::Report(std::string_view agent, std::string_view item, Outcome outcome) {
  nlohmann::json event = {{"type", "model_call"}, {"agent", agent}, {"item", item},
                          {"ok", outcome.ok}};
  if (!outcome.ok) event["error"] = outcome.abandoned ? "abandoned" : outcome.error;
  probe_->Emit(event);
  return outcome;
}

Outcome ModelCaller::Call(std::string_view agent, std::string_view item, Tending& tending) {
  const int64_t deadline = clock_->NowMicros() + settings_.timeout_ms * 1000;
  std::unique_ptr<ModelRequest> request = Begin(agent, item);
  if (clock_->Simulated()) {
    // Settled within this step (see the header); only a request the stub
    // never answers costs simulated time: its whole deadline.
    if (request->Await(settings_.timeout_ms)) return Report(agent, item, request->outcome());
    request.reset();
    for (;;) {
      const int64_t now = clock_->NowMicros();
      if (now >= deadline) return Report(agent, item, {false, kNoAnswer});
      if (!tending.Tend()) return Report(agent, item, {false, kNoAnswer, /*abandoned=*/true});
      const int64_t until = std::min(deadline, tending.NextDutyUs());
      clock_->SleepMicros(std::max<int64_t>(until - clock_->NowMicros(), 1000));
    }
  }
  for (;;) {
    if (!tending.Tend()) return Report(agent, item, {false, "", /*abandoned=*/true});
    const int64_t now = clock_->NowMicros();
    if (now >= deadline) return Report(agent, item, {false, kNoAnswer});
    const int64_t until = std::min(deadline, tending.NextDutyUs());
    const int64_t wait_ms = std::clamp<int64_t>((until - now + 999) / 1000, 1, settings_.timeout_ms);
    if (request->Await(wait_ms)) return Report(agent, item, request->outcome());
  }
}

int64_t ModelCaller::BackoffUs(int failures, uint64_t random) const {
  int64_t ceiling = settings_.backoff_initial_ms * 1000;
  for (int i = 1; i < failures && ceiling < settings_.backoff_max_ms * 1000; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, settings_.backoff_max_ms * 1000);
  const int64_t half = ceiling / 2;
  return half + static_cast<int64_t>(random % static_cast<uint64_t>(ceiling - half + 1));
}

}  // namespace swarm::model
