#include "sim/lockstep_cpu.h"

#include <cstdlib>
#include <string_view>

namespace faultline {

LockstepCpuPin::LockstepCpuPin() {
  CPU_ZERO(&saved_);
  const char* env = std::getenv(kLockstepPinEnv);
  if (env != nullptr && std::string_view(env) == "0") return;
  if (sched_getaffinity(0, sizeof saved_, &saved_) != 0) return;
  // Where the thread runs now: the CPU the scheduler found best for it a
  // moment ago, so runs started side by side spread over the CPUs.
  const int cpu = sched_getcpu();
  if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &saved_) || CPU_COUNT(&saved_) < 2) return;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof one, &one) == 0) cpu_ = cpu;
}

LockstepCpuPin::~LockstepCpuPin() {
  if (cpu_ >= 0) sched_setaffinity(0, sizeof saved_, &saved_);
}

}  // namespace faultline
