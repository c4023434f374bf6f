#include "sim/livelock_watch.h"

#include <fmt/format.h>

#include <algorithm>

namespace faultline {

bool LivelockWatch::OnStep(int64_t now_us, size_t proc, const std::string& id,
                           const std::string& point, const std::string& item) {
  if (now_us != now_us_) {
    // The clock moved: whatever ran before made progress in time.
    now_us_ = now_us;
    steps_ = 0;
    for (Proc& p : procs_) {
      p.steps = 0;
      p.points.clear();
    }
  }
  ++steps_;
  if (proc >= procs_.size()) procs_.resize(proc + 1);
  Proc& p = procs_[proc];
  if (p.steps == 0) p.id = id;
  ++p.steps;
  if (!point.empty()) {
    auto it = std::find_if(p.points.begin(), p.points.end(),
                           [&](const Point& q) { return q.point == point && q.item == item; });
    if (it != p.points.end()) {
      ++it->times;
    } else if (p.points.size() < kMaxPoints) {
      p.points.push_back({point, item, 1});
    }
  }
  return steps_ >= bound_;
}

std::string LivelockWatch::Report() const {
  std::vector<const Proc*> busy;
  for (const Proc& p : procs_) {
    if (p.steps > 0) busy.push_back(&p);
  }
  std::stable_sort(busy.begin(), busy.end(),
                   [](const Proc* a, const Proc* b) { return a->steps > b->steps; });
  std::string out = fmt::format("no simulated time passed in {} steps at {:.3f} s:", steps_,
                                static_cast<double>(now_us_) / 1e6);
  for (size_t i = 0; i < busy.size(); ++i) {
    const Proc& p = *busy[i];
    out += fmt::format("{} {} took {} steps", i == 0 ? "" : ";", p.id, p.steps);
    std::vector<Point> points = p.points;
    std::stable_sort(points.begin(), points.end(),
                     [](const Point& a, const Point& b) { return a.times > b.times; });
    if (points.size() > 4) points.resize(4);
    for (size_t k = 0; k < points.size(); ++k) {
      out +=
          fmt::format("{} {}{} x{}", k == 0 ? ", at" : ",", points[k].point,
                      points[k].item.empty() ? "" : " (" + points[k].item + ")", points[k].times);
    }
  }
  return out;
}

}  // namespace faultline
