#include "ucache/scoped_override.h"

#include <atomic>
#include <cstdint>

namespace ucache {
namespace {

// The innermost override of this thread. A thread-local stack threaded
// through the objects themselves: no allocation, nothing global to set up.
thread_local const ScopedOverride* innermost = nullptr;

// How many overrides exist in all threads. Current() runs on every cached
// call, and thread-local access from position-independent code is a
// function call; a relaxed load of this count skips it in the usual case of
// no override anywhere. A nonzero count only sends the caller to its own
// thread-local stack, which is exact for that thread.
std::atomic<int64_t> live_overrides{0};

}  // namespace

ScopedOverride::ScopedOverride(Backend backend)
    : previous_(innermost), backend_(backend) {
  innermost = this;
  live_overrides.fetch_add(1, std::memory_order_relaxed);
}

ScopedOverride::~ScopedOverride() {
  innermost = previous_;
  live_overrides.fetch_sub(1, std::memory_order_relaxed);
}

std::optional<Backend> ScopedOverride::Current() {
  // A thread's own overrides were counted by this thread, so it always
  // sees its own increments: a zero here means none of them is live.
  if (live_overrides.load(std::memory_order_relaxed) == 0) return std::nullopt;
  if (innermost == nullptr || innermost->backend_ == Backend::kAuto) {
    return std::nullopt;
  }
  return innermost->backend_;
}

}  // namespace ucache
