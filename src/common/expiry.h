// Expiry arithmetic shared by the tiers: `now + ttl` saturates, so that a
// TTL beyond the clock's range (say std::chrono::milliseconds::max()) means
// forever instead of overflowing into the past.

#ifndef UCACHE_SRC_COMMON_EXPIRY_H_
#define UCACHE_SRC_COMMON_EXPIRY_H_

#include <cstdint>
#include <limits>

namespace ucache {

// The instant `ttl_ms` (> 0) after `now_ms`, or the largest instant when
// that is past the range of int64 milliseconds.
inline int64_t ExpiryAfter(int64_t now_ms, int64_t ttl_ms) {
  return ttl_ms > std::numeric_limits<int64_t>::max() - now_ms
             ? std::numeric_limits<int64_t>::max()
             : now_ms + ttl_ms;
}

}  // namespace ucache

#endif  // UCACHE_SRC_COMMON_EXPIRY_H_
