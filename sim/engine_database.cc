// The database server of a run with "store": "postgres" (docs/postgres.md):
// started before the system under test prepares its directory, one relay
// port per process, Settle before every lockstep decision, and what the
// network and database faults do to it.
#include <fmt/format.h>

#include "sim/engine_internal.h"

namespace faultline::engine_detail {
namespace {

// Wall time a client may wait on a blackholed link before its connection is
// reset, for a relay of the engine's own (sim/run.cc gives the same).
constexpr int64_t kBlackholeHangMs = 25;
// A server start, crash recovery included, is not a step: bounded apart.
constexpr int64_t kStartTimeoutMs = 60'000;

std::vector<std::pair<std::string, std::string>> ClientEnv(int port, const std::string& proc) {
  return {{"PGHOST", "127.0.0.1"},
          {"PGPORT", std::to_string(port)},
          {"PGUSER", PgServer::kUser},
          {"PGDATABASE", PgServer::kDatabase},
          {"PGAPPNAME", proc},
          // No encryption to negotiate on a loopback link: one round trip less.
          {"PGSSLMODE", "disable"},
          {"PGGSSENCMODE", "disable"},
          {"PGCONNECT_TIMEOUT", "10"}};
}

}  // namespace

bool Engine::SetUpDatabase() {
  if (s_.store != "postgres") return true;
  auto server = PgServer::Create(o_.work_dir + "/pg", o_.log_dir + "/postgres.log");
  if (!server.ok()) return Fail("cannot set up the database server: " + server.status().message());
  db_ = std::move(*server);
  if (base::Status st = db_->Start(kStartTimeoutMs); !st.ok()) return Fail(st.message());
  relay_ = o_.relay;
  if (relay_ == nullptr) {
    auto relay = NetRelay::Start("", kBlackholeHangMs);
    if (!relay.ok()) return Fail("cannot start the network relay: " + relay.status().message());
    own_relay_ = std::move(*relay);
    relay_ = own_relay_.get();
  }
  relay_->SetTarget(db_->socket_path());
  auto port = relay_->AddEndpoint("tool");
  if (!port.ok()) return Fail(port.status().message());
  tool_env_ = ClientEnv(*port, "tool");
  return true;
}

bool Engine::ConnectProcesses() {
  if (relay_ == nullptr) return true;
  for (Proc& p : procs_) {
    auto port = relay_->AddEndpoint(p.id);
    if (!port.ok()) return Fail(port.status().message());
    auto env = ClientEnv(*port, p.id);
    // First, so that a fault's own variables win.
    p.env.insert(p.env.begin(), env.begin(), env.end());
  }
  return true;
}

bool Engine::SettleDatabase() {
  if (relay_ == nullptr) return true;
  std::vector<std::string> dead;
  for (const Proc& p : procs_) {
    if (!p.alive) dead.push_back(p.id);
  }
  if (relay_->Settle(dead, s_.step_timeout_ms)) return true;
  return Fail(fmt::format("the database server did not end the connections of processes that "
                          "are gone within {} ms (limits.step_timeout_ms)",
                          s_.step_timeout_ms));
}

bool Engine::CrashDatabase(bool clean, std::string* error) {
  if (db_ == nullptr || !db_->running()) {
    *error = "the database server is not running";
    return false;
  }
  // Every client connection is reset first, before the server could tell
  // any of them it is going (a message or an end of file, depending on how
  // far the relay got): what a parked process finds at its next step is the
  // same in every run.
  relay_->ResetAll();
  if (clean) {
    if (base::Status st = db_->Stop(kStartTimeoutMs); !st.ok()) {
      *error = st.message();
      return false;
    }
  } else {
    db_->Kill();
  }
  return SettleDatabase();
}

bool Engine::StartDatabase(int64_t* took_us, std::string* error) {
  if (db_ == nullptr) {
    *error = "the run has no database server";
    return false;
  }
  if (base::Status st = db_->Start(kStartTimeoutMs); !st.ok()) {
    *error = st.message();
    return false;
  }
  *took_us = db_->start_us();
  return true;
}

void Engine::SetLockstepLatency(const std::string& id, int64_t latency_us, int64_t jitter_us,
                                Rng rng) {
  Proc* p = Find(id);
  if (p == nullptr || relay_ == nullptr) return;
  p->latency_us = latency_us;
  p->jitter_us = jitter_us;
  p->latency_rng = rng;
  p->trips_seen = relay_->RoundTrips(id);
}

void Engine::ChargeLatency(Proc& p) {
  if (relay_ == nullptr || (p.latency_us == 0 && p.jitter_us == 0)) return;
  const uint64_t trips = relay_->RoundTrips(p.id);
  for (; p.trips_seen < trips; ++p.trips_seen) {
    p.owed_us += p.latency_us + p.latency_rng.Between(0, p.jitter_us);
  }
  // Paid in its next sleep: the events of the operation come in their
  // order, and its lease runs out meanwhile as over a slow link.
  if (p.parked.kind == Parked::Kind::kSleep && p.owed_us > 0) {
    p.wake_at += p.owed_us;
    p.owed_us = 0;
  }
}

void Engine::TearDownDatabase() {
  if (relay_ != nullptr) relay_->ResetAll();
  own_relay_.reset();
  relay_ = nullptr;
  if (db_) {
    // Its data is thrown away with the scratch directory: no checkpoint.
    (void)db_->Stop(10'000, /*immediate=*/true);
    db_.reset();
  }
}

// --- what a fault reaches (FaultCtx) ---

void FaultCtx::SetLink(const std::string& proc, Link link) {
  NetRelay* relay = engine_->relay();
  if (relay == nullptr) return;
  relay->SetMode(proc, link == Link::kUp          ? NetRelay::Mode::kUp
                       : link == Link::kBlackhole ? NetRelay::Mode::kBlackhole
                                                  : NetRelay::Mode::kReset);
  engine_->SettleDatabase();
}

int FaultCtx::ResetConnections(const std::string& proc) {
  NetRelay* relay = engine_->relay();
  if (relay == nullptr) return 0;
  const int n = relay->ResetConnections(proc);
  engine_->SettleDatabase();
  return n;
}

void FaultCtx::SetLatency(const std::string& proc, int64_t up_us, int64_t down_us,
                          int64_t jitter_us) {
  NetRelay* relay = engine_->relay();
  if (relay == nullptr) return;
  // Lockstep: simulated time does not pass while a process runs; the delay
  // is paid in simulated time instead (Engine::ChargeLatency).
  if (engine_->lockstep()) {
    engine_->SetLockstepLatency(proc, up_us + down_us, jitter_us, Rng(rng_.Next()));
    return;
  }
  relay->SetLatency(proc, up_us, down_us, jitter_us, rng_.Next());
}

uint64_t FaultCtx::RoundTrips(const std::string& proc) const {
  NetRelay* relay = engine_->relay();
  return relay == nullptr ? 0 : relay->RoundTrips(proc);
}

uint64_t FaultCtx::ConnectionsOpened(const std::string& proc) const {
  NetRelay* relay = engine_->relay();
  return relay == nullptr ? 0 : relay->ConnectionsOpened(proc);
}

void FaultCtx::LimitConnections(const std::vector<std::string>& procs, int max) {
  NetRelay* relay = engine_->relay();
  if (relay == nullptr) return;
  relay->LimitConnections(procs, max);
  engine_->SettleDatabase();
}

uint64_t FaultCtx::LimitRefusals(const std::string& proc) const {
  NetRelay* relay = engine_->relay();
  return relay == nullptr ? 0 : relay->LimitRefusals(proc);
}

bool FaultCtx::Crash(std::string* error) { return engine_->CrashDatabase(false, error); }

bool FaultCtx::Shutdown(std::string* error) { return engine_->CrashDatabase(true, error); }

bool FaultCtx::Start(int64_t* took_us, std::string* error) {
  const bool ok = engine_->StartDatabase(took_us, error);
  if (!ok) engine_->FaultSetupFailed("fault " + kind_ + ": " + *error);
  return ok;
}

bool FaultCtx::Running() const {
  PgServer* db = engine_->db();
  return db != nullptr && db->running();
}

}  // namespace faultline::engine_detail
