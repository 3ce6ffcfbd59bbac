// Forging store files as an attacker with write access to a store would:
// bytes of one's choosing that still pass ucache's checksums, which are
// there to catch accidents, not malice. Tests and fuzz targets use this to
// reach the code behind each checksum with hostile lengths and offsets.
//
// Thread safety: the functions touch only their arguments.

#ifndef UCACHE_TESTS_FORGE_H_
#define UCACHE_TESTS_FORGE_H_

#include <cstdint>
#include <string>

namespace ucache {

// Walks the log image `log` (a whole log file, prelude included) from its
// first record, as recovery does, and rewrites the checksum of every record
// that parses, stopping at the first that does not.
void SealRecords(std::string* log);

// Rewrites the magic, version and checksum of the 64-byte prelude at the
// start of `file` (no-op when shorter) so that it passes the prelude checks.
// `magic` is fcache_internal::kIndexMagic or fcache_internal::kLogMagic.
void SealFilePrelude(uint64_t magic, std::string* file);

}  // namespace ucache

#endif  // UCACHE_TESTS_FORGE_H_
