#include "ucache/scoped_override.h"

#include <atomic>
#include <cstdint>

namespace ucache {

constinit std::atomic<int64_t> scoped_override_internal::live_overrides{0};

namespace {

// The innermost override of this thread. A thread-local stack threaded
// through the objects themselves: no allocation, nothing global to set up.
thread_local const ScopedOverride* innermost = nullptr;

using scoped_override_internal::live_overrides;

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

std::optional<Backend> ScopedOverride::InThisThread() {
  // A nonzero count (Current) only sends the caller here, to its own
  // thread-local stack, which is exact for that thread.
  if (innermost == nullptr || innermost->backend_ == Backend::kAuto) {
    return std::nullopt;
  }
  return innermost->backend_;
}

}  // namespace ucache
