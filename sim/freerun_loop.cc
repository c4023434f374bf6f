// Freerun (DESIGN §3): real time, real concurrency; the loop polls the
// processes' sockets and fires fault timers at wall times.
#include "sim/engine_internal.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace faultline::engine_detail {

EngineResult::End Engine::FreerunLoop() {
  const int64_t wall_deadline = s_.wall_ms * 1000;
  std::vector<pollfd> fds;
  std::vector<Proc*> owners;
  for (;;) {
    if (Interrupted()) return EngineResult::End::kInterrupted;
    if (!result_.error.empty()) return EngineResult::End::kHarnessError;
    if (T() > wall_deadline) return EngineResult::End::kWallLimit;
    bool agents_alive = false;
    fds.clear();
    owners.clear();
    for (Proc& p : procs_) {
      if (!p.alive) continue;
      agents_alive = agents_alive || Working(p);
      fds.push_back({p.conn->fd(), POLLIN, 0});
      owners.push_back(&p);
    }
    if (!agents_alive && timers_.empty()) {
      // Agents that went idle before work arrived are started again.
      if (WakeIdleAgents() == 0) return EngineResult::End::kCompleted;
      continue;
    }
    int64_t wait_us = 20'000;
    if (!timers_.empty()) wait_us = std::clamp<int64_t>(timers_.top().at - T(), 0, wait_us);
    int rc = poll(fds.data(), fds.size(), static_cast<int>((wait_us + 999) / 1000));
    if (rc < 0 && errno != EINTR) {
      Fail(fmt::format("poll: {}", strerror(errno)));
      return EngineResult::End::kHarnessError;
    }
    for (size_t i = 0; rc > 0 && i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Proc& p = *owners[i];
      std::string error;
      auto r = p.conn->Drain(
          [&](nlohmann::json ev, int64_t mono) {
            Emit(p.id, std::move(ev), mono ? mono - start_mono_ : T());
          },
          &error);
      if (r == ControlConnection::Read::kClosed) OnClosed(p);
      if (r == ControlConnection::Read::kBadMessage) {
        Fail(fmt::format("{} broke the control protocol: {}", p.id, error));
      }
    }
    FireDueTimers();
    if (T() - last_snapshot_ >= kFreerunSnapshotUs) {
      last_snapshot_ = T();
      Snapshot();
      for (Proc& p : procs_) {
        if (p.alive) SampleUsage(p);
      }
    }
    ShowProgress(false);
  }
}

}  // namespace faultline::engine_detail
