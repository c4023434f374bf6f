// One 64-bit seed per run, split into named streams (STYLE.md 2): adding a
// fault or a draw in one place never shifts the numbers drawn elsewhere.
#pragma once

#include <cstdint>
#include <string_view>

namespace faultline {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  // An independent stream for `name`, the same for the same seed and name.
  Rng Split(std::string_view name) const {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : name) {
      h ^= c;
      h *= 1099511628211ULL;
    }
    uint64_t s = state_ ^ h;
    return Rng(Mix(s));
  }

  uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return Mix(state_);
  }

  // Uniform in [lo, hi] (inclusive); lo when hi <= lo.
  int64_t Between(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>(Next() % span);
  }

  // Uniform index in [0, n); 0 when n == 0.
  size_t Index(size_t n) { return n == 0 ? 0 : static_cast<size_t>(Next() % n); }

  uint64_t state() const { return state_; }

 private:
  static uint64_t Mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t state_;
};

}  // namespace faultline
