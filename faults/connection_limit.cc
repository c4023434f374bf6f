// connection_limit: from `at_ms` for `duration_ms`, at most `max` connections
// of the limited processes are open at once, as in a connection pool that is
// exhausted or a server at max_connections. A new connection beyond that
// gets what PostgreSQL answers when it is full: an ErrorResponse "FATAL:
// sorry, too many clients already" (SQLSTATE 53300) in place of the
// authentication request, sent by the relay (sim/net_relay.h), then end of
// file; libpq reports it as it would from the server. Connections open when
// the limit comes stay open; with `evict` every one of them is reset first
// (the pool or bouncer restarted), and the processes race back for the
// `max` places. `role`: whose connections count and are limited, the agents'
// (the reaper keeps a reserved connection) or every process of the system;
// the harness's own tools are never limited.
//
// The limit comes and goes at timers, while every process is parked in
// lockstep; each decision is made when a process connects, from which
// processes hold connections then: the same in every run of a seed.
//
// Landed when the limit lifts, if it refused a connection (how many, whose,
// how many were evicted); at the end, with what each refused agent did
// after the lift (reconnects_after_partition judges it). A limit that
// refused nothing did not land.
#include <map>

#include "faults/kinds.h"

namespace faultline::faults {
namespace {

enum Tag { kOn, kOff };

class ConnectionLimit final : public Fault {
 public:
  explicit ConnectionLimit(const nlohmann::json& o)
      : at_ms_(o["at_ms"]), duration_ms_(o["duration_ms"]), max_(o["max"]),
        evict_(o["evict"]), role_(o["role"].get<std::string>()) {}

  void Start(FaultContext& ctx) override { ctx.SetTimer(at_ms_ * 1000, kOn); }

  void OnTimer(FaultContext& ctx, int tag) override {
    if (tag == kOn) {
      On(ctx);
    } else if (on_) {
      Lift(ctx);
    }
  }

  void Finish(FaultContext& ctx) override {
    if (on_) Lift(ctx);
    if (refused_.empty()) return;
    NetworkControl& net = ctx.network();
    nlohmann::json after = nlohmann::json::array();
    for (const auto& [proc, n] : refused_) {
      after.push_back({{"agent", proc},
                       {"round_trips", net.RoundTrips(proc) - at_lift_[proc].round_trips},
                       {"connections", net.ConnectionsOpened(proc) - at_lift_[proc].connections}});
    }
    ctx.Landed({{"phase", "end"}, {"lifted_at_us", lifted_at_}, {"after_lift", after}});
  }

 private:
  struct Counts {
    uint64_t round_trips = 0;
    uint64_t connections = 0;
  };

  void On(FaultContext& ctx) {
    procs_ = ctx.processes().List(role_ == "agent" ? "agent" : "");
    NetworkControl& net = ctx.network();
    for (const std::string& p : procs_) before_[p] = net.LimitRefusals(p);
    if (evict_) {
      for (const std::string& p : procs_) evicted_ += net.ResetConnections(p);
    }
    net.LimitConnections(procs_, max_);
    on_ = true;
    on_at_ = ctx.Now();
    ctx.SetTimer(on_at_ + duration_ms_ * 1000, kOff);
  }

  void Lift(FaultContext& ctx) {
    on_ = false;
    lifted_at_ = ctx.Now();
    NetworkControl& net = ctx.network();
    net.LimitConnections({}, -1);
    uint64_t total = 0;
    nlohmann::json by_proc = nlohmann::json::object();
    for (const std::string& p : procs_) {
      const uint64_t n = net.LimitRefusals(p) - before_[p];
      if (n == 0) continue;
      total += n;
      by_proc[p] = n;
      // Only agents are judged on coming back (the reaper has its own pace).
      if (p != "reaper") refused_[p] = n;
      at_lift_[p] = {net.RoundTrips(p), net.ConnectionsOpened(p)};
    }
    if (total == 0) return;
    ctx.Landed({{"phase", "lifted"},
                {"max", max_},
                {"evicted", evicted_},
                {"refused", total},
                {"refused_by", by_proc},
                {"from_us", on_at_},
                {"until_us", lifted_at_}});
  }

  int64_t at_ms_, duration_ms_;
  int max_;
  bool evict_;
  std::string role_;
  std::vector<std::string> procs_;
  std::map<std::string, uint64_t> before_;
  std::map<std::string, uint64_t> refused_;
  std::map<std::string, Counts> at_lift_;
  int evicted_ = 0;
  bool on_ = false;
  int64_t on_at_ = 0, lifted_at_ = 0;
};

}  // namespace

FaultKind ConnectionLimitKind() {
  return {
      "connection_limit",
      "at most `max` connections to the database server at once for a while; new ones beyond "
      "that are refused as by a full server (SQLSTATE 53300)",
      "connection pool exhausted or max_connections reached (optionally a pool restart)",
      /*lockstep_only=*/false,
      {
          {"at_ms", OptionSpec::Type::kInt, true, 1000, 0, 86'400'000, {},
           "run time the limit comes (ms)"},
          {"duration_ms", OptionSpec::Type::kInt, true, 5000, 1, 86'400'000, {},
           "how long it lasts (ms)"},
          {"max", OptionSpec::Type::kInt, true, 1, 0, 1024, {},
           "connections of the limited processes open at once"},
          {"evict", OptionSpec::Type::kBool, false, false, 0, 0, {},
           "reset every open connection of the limited processes when the limit comes (a pool "
           "or bouncer restart)"},
          {"role", OptionSpec::Type::kString, false, "any", 0, 0, {"agent", "any"},
           "whose connections are limited: the agents' (the reaper keeps its own), or every "
           "process of the system (agents and the reaper); the harness's tools never are"},
      },
      [](const nlohmann::json& o) { return std::make_unique<ConnectionLimit>(o); },
      /*needs=*/capability::kProcesses | capability::kNetwork,
  };
}

}  // namespace faultline::faults
