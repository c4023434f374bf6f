#include "tests/faults/fake_server_store.h"

namespace faultline::testing {

Link FakeServerStore::link(const std::string& proc) const {
  const auto it = link_now_.find(proc);
  return it == link_now_.end() ? Link::kUp : it->second;
}

void FakeServerStore::SetLink(const std::string& proc, Link link) {
  links_.push_back({proc, link, now_()});
  link_now_[proc] = link;
  // A reset link resets what is open, as the relay does.
  if (link == Link::kReset) open_[proc] = 0;
}

int FakeServerStore::ResetConnections(const std::string& proc) {
  resets_.emplace_back(proc, now_());
  const int n = open_[proc];
  open_[proc] = 0;
  return n;
}

void FakeServerStore::SetLatency(const std::string& proc, int64_t up_us, int64_t down_us,
                                 int64_t jitter_us) {
  latencies_.push_back({proc, up_us, down_us, jitter_us, now_()});
}

uint64_t FakeServerStore::RoundTrips(const std::string& proc) const {
  const auto it = round_trips_.find(proc);
  return it == round_trips_.end() ? 0 : it->second;
}

uint64_t FakeServerStore::ConnectionsOpened(const std::string& proc) const {
  const auto it = opened_.find(proc);
  return it == opened_.end() ? 0 : it->second;
}

void FakeServerStore::LimitConnections(const std::vector<std::string>& procs, int max) {
  limits_.push_back({procs, max, now_()});
}

uint64_t FakeServerStore::LimitRefusals(const std::string& proc) const {
  const auto it = refusals_.find(proc);
  return it == refusals_.end() ? 0 : it->second;
}

bool FakeServerStore::Crash(std::string* error) {
  if (!running_) {
    *error = "the database server is not running";
    return false;
  }
  db_calls_.push_back({"crash", now_()});
  running_ = false;
  return true;
}

bool FakeServerStore::Shutdown(std::string* error) {
  if (!running_) {
    *error = "the database server is not running";
    return false;
  }
  db_calls_.push_back({"shutdown", now_()});
  running_ = false;
  return true;
}

bool FakeServerStore::Start(int64_t* took_us, std::string* error) {
  db_calls_.push_back({"start", now_()});
  if (!start_failure_.empty()) {
    *error = start_failure_;
    return false;
  }
  running_ = true;
  *took_us = 1234;
  return true;
}

}  // namespace faultline::testing
