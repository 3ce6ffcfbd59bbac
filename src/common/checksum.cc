#include "src/common/checksum.h"

#include <xxhash.h>
#if defined(__x86_64__)
#include <xxh_x86dispatch.h>
// Weak: Debian's shared libxxhash exports the dispatched entry, its static
// archive does not. A program linked against the archive finds it null
// and takes the portable entry.
#pragma weak XXH3_64bits_withSeed_dispatch
#endif

namespace ucache {

uint64_t Checksum64(const void* data, size_t len, uint64_t seed) {
#if defined(__x86_64__)
  if (&XXH3_64bits_withSeed_dispatch != nullptr) {
    return XXH3_64bits_withSeed_dispatch(data, len, seed);
  }
#endif
  return XXH3_64bits_withSeed(data, len, seed);
}

}  // namespace ucache
