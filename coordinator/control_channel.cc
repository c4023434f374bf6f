#include "coordinator/control_channel.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/fd_io.h"
#include "base/monotonic_clock.h"
#include "sim/protocol/control_protocol.h"

namespace swarm {

namespace proto = faultline::protocol;

ControlChannel::ControlChannel(int fd, std::string_view role, std::string_view id,
                               bool lockstep)
    : fd_(fd), lockstep_(lockstep) {
  Send({{proto::kHello, {{"pid", getpid()}, {"role", role}, {"id", id}}}});
  if (lockstep_) AwaitGo();
}

ControlChannel::~ControlChannel() { close(fd_); }

int64_t ControlChannel::NowMicros() {
  // The coordinator keeps time on the boot clock, which a step of the wall
  // clock does not move (clock.h): lockstep, the simulator's "boot" once the
  // wall clock has been stepped, else its "now".
  if (lockstep_) return boot_;
  const int64_t real = real_.NowMicros();
  return real + skew_offset_us_ + skew_drift_ppm_ * (real - skew_origin_us_) / 1'000'000;
}

void ControlChannel::SkewRealClock(int64_t offset_us, int64_t drift_ppm) {
  skew_offset_us_ = offset_us;
  skew_drift_ppm_ = drift_ppm;
  skew_origin_us_ = real_.NowMicros();
}

void ControlChannel::SleepMicros(int64_t micros) {
  if (!lockstep_) {
    // A clock that runs fast by drift_ppm ends the sleep early in real time.
    return real_.SleepMicros(skew_drift_ppm_ == 0
                                 ? micros
                                 : micros * 1'000'000 / (1'000'000 + skew_drift_ppm_));
  }
  Send({{proto::kSleepUs, micros < 0 ? 0 : micros}});
  AwaitGo();
}

void ControlChannel::PassPoints(std::string_view points) {
  pass_.clear();
  while (!points.empty()) {
    const size_t comma = points.find(',');
    const std::string_view one = points.substr(0, comma);
    if (!one.empty()) pass_.emplace_back(one);
    points = comma == std::string_view::npos ? std::string_view() : points.substr(comma + 1);
  }
}

void ControlChannel::Yield(std::string_view point, std::string_view item) {
  if (!lockstep_) return;
  // A point of the process's own state the simulator said it need not decide
  // at: going on at once is what its "go" would have done (nothing else runs
  // in between, and the clock it would send is the one this process holds).
  for (const std::string& pass : pass_) {
    if (pass == point) return;
  }
  Send({{proto::kYield, point}, {proto::kItem, item}});
  AwaitGo();
}

void ControlChannel::Emit(const nlohmann::json& event) {
  if (lockstep_) return Send({{proto::kEvent, event}});
  Send({{proto::kEvent, event}, {proto::kMonoUs, base::MonotonicMicros()}});
}

void ControlChannel::Reached(std::string_view name, bool hit) {
  Emit({{"type", proto::kProbeEvent}, {"name", name}, {"hit", hit}});
}

void ControlChannel::Send(const nlohmann::json& message) {
  std::string line = message.dump();
  line.push_back('\n');
  // MSG_NOSIGNAL: a vanished simulator is an error we report, not SIGPIPE.
  if (!base::SendAll(fd_, line)) Lost("write");
}

void ControlChannel::AwaitGo() {
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      nlohmann::json reply = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!reply.is_object() || !reply.value(proto::kGo, false) ||
          !reply.contains(proto::kNow) || !reply[proto::kNow].is_number_integer()) {
        Lost("unexpected reply '" + line + "'");
      }
      now_ = reply[proto::kNow].get<int64_t>();
      boot_ = now_;
      if (reply.contains(proto::kBoot)) {
        if (!reply[proto::kBoot].is_number_integer()) Lost("unexpected reply '" + line + "'");
        boot_ = reply[proto::kBoot].get<int64_t>();
      }
      server_ = boot_;
      if (reply.contains(proto::kServer)) {
        if (!reply[proto::kServer].is_number_integer()) Lost("unexpected reply '" + line + "'");
        server_ = reply[proto::kServer].get<int64_t>();
      }
      return;
    }
    char chunk[512];
    ssize_t n = read(fd_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Lost(n == 0 ? "end of file" : "read");
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

void ControlChannel::Lost(std::string_view what) {
  // The simulator is gone or spoke nonsense: nothing this process does can be
  // recorded any more, so it stops at once rather than running uncontrolled.
  std::fprintf(stderr, "swarm: control channel lost (%.*s, %s); exiting\n",
               static_cast<int>(what.size()), what.data(), std::strerror(errno));
  _exit(3);
}

namespace {

// kClockSkewEnv = "OFFSET_US:DRIFT_PPM", set by the simulator only.
void ApplyClockSkew(ControlChannel& channel) {
  const char* env = std::getenv(proto::kClockSkewEnv);
  if (env == nullptr || *env == '\0') return;
  long long offset = 0, drift = 0;
  if (std::sscanf(env, "%lld:%lld", &offset, &drift) != 2 || drift <= -1'000'000) {
    std::fprintf(stderr, "swarm: %s=%s is not OFFSET_US:DRIFT_PPM; exiting\n",
                 proto::kClockSkewEnv, env);
    std::exit(3);
  }
  channel.SkewRealClock(offset, drift);
}

}  // namespace

Runtime MakeRuntimeFromEnvironment(std::string_view role, std::string_view id) {
  Runtime rt;
  const char* env = std::getenv(proto::kCtlFdEnv);
  if (env != nullptr && *env != '\0') {
    char* end = nullptr;
    long fd = std::strtol(env, &end, 10);
    if (*end == '\0' && fd >= 0 && fcntl(static_cast<int>(fd), F_GETFD) != -1) {
      fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
      const char* mode = std::getenv(proto::kModeEnv);
      bool lockstep = mode == nullptr || std::string_view(mode) != proto::kFreerun;
      rt.channel = std::make_unique<ControlChannel>(static_cast<int>(fd), role, id, lockstep);
      if (!lockstep) ApplyClockSkew(*rt.channel);
      if (const char* pass = std::getenv(proto::kPassPointsEnv); lockstep && pass != nullptr) {
        rt.channel->PassPoints(pass);
      }
      rt.clock = rt.channel.get();
      rt.probe = rt.channel.get();
      return rt;
    }
    // A process meant to run under the simulator must never run uncontrolled.
    std::fprintf(stderr, "swarm: %s=%s is not an open file descriptor; exiting\n",
                 proto::kCtlFdEnv, env);
    std::exit(3);
  }
  rt.owned_clock = std::make_unique<RealClock>();
  rt.owned_probe = std::make_unique<NullProbe>();
  rt.clock = rt.owned_clock.get();
  rt.probe = rt.owned_probe.get();
  return rt;
}

}  // namespace swarm
