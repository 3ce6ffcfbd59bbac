// Checksum64: XXH3's 64-bit hash of a record's, frame's or chunk's bytes,
// through the system libxxhash's runtime-dispatched entry on x86-64. That
// entry uses the widest vector unit the CPU has (AVX2, AVX-512); the plain
// entry is built for SSE2, the least every x86-64 has. Both compute the same
// value, so stores and frames written through either read through the
// other. On this machine (AVX-512), over 256 KiB already in the cache:
// 22 GB/s against 6 GB/s (BENCHMARKS.md, issue 12). A program linked
// against a libxxhash without that entry (Debian's static archive) gets the
// plain one. Keys and other short inputs keep the plain entry: below a few
// hundred bytes no vector loop runs.

#ifndef UCACHE_SRC_COMMON_CHECKSUM_H_
#define UCACHE_SRC_COMMON_CHECKSUM_H_

#include <cstddef>
#include <cstdint>

namespace ucache {

// XXH3_64bits_withSeed(data, len, seed), computed as fast as this CPU can.
uint64_t Checksum64(const void* data, size_t len, uint64_t seed = 0);

}  // namespace ucache

#endif  // UCACHE_SRC_COMMON_CHECKSUM_H_
