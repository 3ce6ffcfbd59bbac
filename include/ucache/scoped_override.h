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

#include <optional>

#include "ucache/internal/language_level.h"
#include "ucache/options.h"

namespace ucache {

class ScopedOverride {
 public:
  explicit ScopedOverride(Backend backend);
  ~ScopedOverride();
  ScopedOverride(const ScopedOverride&) = delete;
  ScopedOverride& operator=(const ScopedOverride&) = delete;

  // The innermost override of the calling thread, or nullopt (also when it
  // is kAuto).
  static std::optional<Backend> Current();

 private:
  const ScopedOverride* const previous_;
  const Backend backend_;
};

}  // namespace ucache

#endif  // UCACHE_SCOPED_OVERRIDE_H_
