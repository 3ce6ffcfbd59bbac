#include "src/common/checksum.h"

#include <xxhash.h>
#if defined(__x86_64__)
#include <immintrin.h>
// Left alone, the header renames XXH3_64bits_withSeed to the dispatched
// entry, and the fallback below would call it too.
#define XXH_DISPATCH_DISABLE_REPLACE
#include <xxh_x86dispatch.h>
// Weak: Debian's shared libxxhash exports the dispatched entry, its static
// archive does not. A program linked against the archive finds it null
// and takes the portable entry.
#pragma weak XXH3_64bits_withSeed_dispatch
#endif

namespace ucache {
namespace {

#if defined(__x86_64__)
// Debian's dispatched XXH3 returns with the vector registers' upper halves
// dirty (no VZEROUPPER), and every SSE instruction after it then pays a
// transition penalty: an 8 MB memoized kernel of sin and exp that follows a
// checksum ran 19 times slower (544 ms instead of 29;
// //bench:memoize_compare). Only a CPU with AVX has the upper halves, and
// only there did the dispatcher pick a vector path that dirties them.
__attribute__((target("avx"))) void ZeroUpperHalves() { _mm256_zeroupper(); }

bool HasAvx() {
  static const bool has = [] {
    __builtin_cpu_init();  // may run before the CPU model's constructor
    return __builtin_cpu_supports("avx") != 0;
  }();
  return has;
}
#endif

}  // namespace

uint64_t Checksum64(const void* data, size_t len, uint64_t seed) {
#if defined(__x86_64__)
  if (&XXH3_64bits_withSeed_dispatch != nullptr) {
    const uint64_t h = XXH3_64bits_withSeed_dispatch(data, len, seed);
    if (HasAvx()) ZeroUpperHalves();
    return h;
  }
#endif
  return XXH3_64bits_withSeed(data, len, seed);
}

}  // namespace ucache
