// Exit codes of the swarm binary, defined in one place.
#pragma once

namespace swarm {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;   // an operation failed (storage, conflict)
inline constexpr int kExitUsage = 2;     // bad arguments, missing or foreign directory
inline constexpr int kExitConfig = 78;   // EX_CONFIG: config fingerprint mismatch or drift

}  // namespace swarm
