// AllocationProbe: the size of the largest heap allocation made through
// operator new since the last Reset(), for tests that prove hostile input
// cannot make the engine allocate much. Linking this library replaces the
// global operator new and delete of the whole test binary (they forward to
// malloc and free, as the default ones do), so link it only into tests that
// need it.
//
// Thread safety: all functions may be called from any thread; allocations of
// every thread count.

#ifndef UCACHE_TESTS_ALLOCATION_PROBE_H_
#define UCACHE_TESTS_ALLOCATION_PROBE_H_

#include <cstddef>

namespace ucache {

class AllocationProbe {
 public:
  // Forgets the allocations seen so far.
  static void Reset();
  // The largest single request since Reset(), refused ones included.
  static size_t Largest();
};

}  // namespace ucache

#endif  // UCACHE_TESTS_ALLOCATION_PROBE_H_
