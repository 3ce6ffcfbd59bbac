#include "ucache/scoped_override.h"

namespace ucache {
namespace {

// The innermost override of this thread. A thread-local stack threaded
// through the objects themselves: no allocation, nothing global to set up.
thread_local const ScopedOverride* innermost = nullptr;

}  // namespace

ScopedOverride::ScopedOverride(Backend backend)
    : previous_(innermost), backend_(backend) {
  innermost = this;
}

ScopedOverride::~ScopedOverride() { innermost = previous_; }

std::optional<Backend> ScopedOverride::Current() {
  if (innermost == nullptr || innermost->backend_ == Backend::kAuto) {
    return std::nullopt;
  }
  return innermost->backend_;
}

}  // namespace ucache
