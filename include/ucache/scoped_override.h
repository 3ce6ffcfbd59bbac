// ScopedOverride: for the lifetime of the object, the caches used by this
// thread serve from one backend, or not at all: the C++ form of a Python
// context manager.
//
//   {
//     ucache::ScopedOverride no_cache(ucache::Backend::kDisabled);
//     cached(1000, 0.5);  // runs simulate, stores nothing
//   }
//
// Overrides nest: the innermost one wins, and each restores what was in
// force before it. They apply to the thread that created them only (other
// threads, and work this thread hands to them, are unaffected), so they must
// be destroyed on that thread, in reverse order of creation: keep them as
// local variables. kAuto restores the cache's own choice inside an outer
// override.

#ifndef UCACHE_SCOPED_OVERRIDE_H_
#define UCACHE_SCOPED_OVERRIDE_H_

#include <atomic>
#include <cstdint>
#include <optional>

#include "ucache/internal/language_level.h"
#include "ucache/options.h"

namespace ucache {

namespace scoped_override_internal {
// How many overrides exist in all threads (scoped_override.cc). Current()
// runs on every cached call; a relaxed load of this count, inlined, skips
// the thread-local stack in the usual case of no override anywhere (out of
// line, returning the optional cost a small hit 13% of its time in a
// store-forwarding stall).
extern constinit std::atomic<int64_t> live_overrides;
}  // namespace scoped_override_internal

class ScopedOverride {
 public:
  explicit ScopedOverride(Backend backend);
  ~ScopedOverride();
  ScopedOverride(const ScopedOverride&) = delete;
  ScopedOverride& operator=(const ScopedOverride&) = delete;

  // The innermost override of the calling thread, or nullopt (also when it
  // is kAuto).
  static std::optional<Backend> Current() {
    // A thread's own overrides were counted by this thread, so it always
    // sees its own increments: a zero here means none of them is live.
    if (scoped_override_internal::live_overrides.load(
            std::memory_order_relaxed) == 0) {
      return std::nullopt;
    }
    return InThisThread();
  }

 private:
  // Current() when some override is live in some thread.
  static std::optional<Backend> InThisThread();

  const ScopedOverride* const previous_;
  const Backend backend_;
};

}  // namespace ucache

#endif  // UCACHE_SCOPED_OVERRIDE_H_
