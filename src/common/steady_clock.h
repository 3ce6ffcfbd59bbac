// SteadyMillis: the default clock of the in-process tiers' TTLs and of the
// selector's retry timer, in milliseconds on steady_clock's epoch. The
// persisted expiry of the file tier uses wall time instead (Env::NowMillis).

#ifndef UCACHE_SRC_COMMON_STEADY_CLOCK_H_
#define UCACHE_SRC_COMMON_STEADY_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace ucache {

inline int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace ucache

#endif  // UCACHE_SRC_COMMON_STEADY_CLOCK_H_
