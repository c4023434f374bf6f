// The database server and the network to it, in memory, for the unit tests
// of the network and database faults (FakeFaultContext::network() and
// database()): a record of every link switch, reset, latency and server
// transition, with round trips and connections the test sets.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sim/fault.h"

namespace faultline::testing {

class FakeServerStore final : public NetworkControl, public DatabaseControl {
 public:
  // `now` reads the fake run's clock.
  explicit FakeServerStore(std::function<int64_t()> now) : now_(std::move(now)) {}

  struct LinkCall {
    std::string proc;
    Link link;
    int64_t at;
  };
  struct LatencyCall {
    std::string proc;
    int64_t up_us, down_us, jitter_us;
    int64_t at;
  };
  struct LimitCall {
    std::vector<std::string> procs;
    int max;
    int64_t at;
  };
  struct DbCall {
    std::string what;  // "crash" | "shutdown" | "start"
    int64_t at;
  };

  // --- the test's hand ---
  void set_round_trips(const std::string& proc, uint64_t n) { round_trips_[proc] = n; }
  void set_connections_opened(const std::string& proc, uint64_t n) { opened_[proc] = n; }
  void set_open_connections(const std::string& proc, int n) { open_[proc] = n; }
  void set_limit_refusals(const std::string& proc, uint64_t n) { refusals_[proc] = n; }
  // Start fails from now on, saying `why` ("": it succeeds).
  void FailStart(std::string why) { start_failure_ = std::move(why); }

  // --- what the fault did ---
  const std::vector<LinkCall>& links() const { return links_; }
  const std::vector<std::pair<std::string, int64_t>>& resets() const { return resets_; }
  const std::vector<LatencyCall>& latencies() const { return latencies_; }
  const std::vector<DbCall>& db_calls() const { return db_calls_; }
  const std::vector<LimitCall>& limits() const { return limits_; }
  // The link of `proc` now (kUp if never set).
  Link link(const std::string& proc) const;

  // --- NetworkControl ---
  void SetLink(const std::string& proc, Link link) override;
  int ResetConnections(const std::string& proc) override;
  void SetLatency(const std::string& proc, int64_t up_us, int64_t down_us,
                  int64_t jitter_us) override;
  uint64_t RoundTrips(const std::string& proc) const override;
  uint64_t ConnectionsOpened(const std::string& proc) const override;
  void LimitConnections(const std::vector<std::string>& procs, int max) override;
  uint64_t LimitRefusals(const std::string& proc) const override;

  // --- DatabaseControl ---
  bool Crash(std::string* error) override;
  bool Shutdown(std::string* error) override;
  bool Start(int64_t* took_us, std::string* error) override;
  bool Running() const override { return running_; }

 private:
  std::function<int64_t()> now_;
  std::map<std::string, uint64_t> round_trips_, opened_, refusals_;
  std::map<std::string, int> open_;
  std::map<std::string, Link> link_now_;
  std::string start_failure_;
  bool running_ = true;
  std::vector<LinkCall> links_;
  std::vector<std::pair<std::string, int64_t>> resets_;
  std::vector<LatencyCall> latencies_;
  std::vector<DbCall> db_calls_;
  std::vector<LimitCall> limits_;
};

}  // namespace faultline::testing
