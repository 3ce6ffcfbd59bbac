// Fuzzes the index file (src/fcache/index_file.h): opening arbitrary bytes as
// an index, walking its slots and probing it as reads and writes do.
//
// Input: one flags byte, then the file's bytes.
//   bit 0     seal: give the prelude a valid magic, version and checksum;
//   bit 1     fit: pad or cut the file to the size its capacity implies
//             (capacities up to 2^16 only, to keep inputs small);
//   bits 2-3  when nonzero, first set the capacity to 1024 << (value - 1);
//   bit 4     open writable, and insert a key the way a put does.
// Properties checked besides "no crash, no sanitizer report":
//  * an index that opens has a power-of-two capacity >= 1024 and exactly
//    the file size that capacity implies;
//  * Find only returns slots carrying the tag asked for;
//  * a free slot Find offers lies on the tag's probe path: after filling
//    it, Find reaches it.

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "fuzz/fuzz_util.h"
#include "src/fcache/format.h"
#include "src/fcache/index_file.h"
#include "tests/forge.h"
#include "ucache/env.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ucache;
  using namespace ucache::fuzz;
  using fcache_internal::IndexFile;
  InputReader in(data, size);
  const uint8_t flags = in.U8();
  std::string file(in.Rest());
  uint64_t capacity = 0;
  if (file.size() >= sizeof(fcache_internal::FilePrelude)) {
    if ((flags >> 2) & 3) {
      capacity = uint64_t{1024} << (((flags >> 2) & 3) - 1);
      std::memcpy(file.data() + offsetof(fcache_internal::FilePrelude, capacity),
                  &capacity, sizeof(capacity));
    }
    if (flags & 1) SealFilePrelude(fcache_internal::kIndexMagic, &file);
    std::memcpy(&capacity,
                file.data() + offsetof(fcache_internal::FilePrelude, capacity),
                sizeof(capacity));
  }
  if ((flags & 2) && capacity <= (uint64_t{1} << 16)) {
    file.resize(fcache_internal::IndexFileBytes(capacity), '\0');
  }
  const std::string path = ScratchDir() + "/index";
  WriteFileOrDie(path, file);

  static const std::shared_ptr<Env> env = NewPosixEnv();
  const bool writable = flags & 16;
  Result<std::unique_ptr<IndexFile>> opened =
      IndexFile::Open(env, path, writable);
  if (!opened.ok()) return 0;
  const IndexFile& index = **opened;
  FUZZ_CHECK(index.capacity() >= fcache_internal::kMinCapacity);
  FUZZ_CHECK((index.capacity() & (index.capacity() - 1)) == 0);
  FUZZ_CHECK(index.file_bytes() == file.size());

  uint64_t tags[8] = {};
  int n = 0;
  index.ForEachLiveSlot([&](uint64_t tag, uint64_t) {
    if (n < 8) tags[n++] = tag;
  });
  for (int i = 0; i < n; ++i) {
    const int64_t found = index.Find(tags[i], [](uint64_t) { return true; });
    if (found >= 0) FUZZ_CHECK(index.slot(found).tag == tags[i]);
  }
  if (!writable) return 0;
  // As a put of a new key does: probe, then fill the free slot offered.
  const uint64_t tag = fcache_internal::TagOf(n > 0 ? tags[0] + 1 : 12345);
  constexpr uint64_t kNewLoc = ~uint64_t{0} - 15;
  int64_t free_slot = -1;
  const int64_t found = index.Find(
      tag, [](uint64_t loc) { return loc == kNewLoc; }, &free_slot);
  if (found >= 0 || free_slot < 0) return 0;
  FUZZ_CHECK(static_cast<uint64_t>(free_slot) < index.capacity());
  index.Fill(static_cast<uint64_t>(free_slot), tag, kNewLoc);
  FUZZ_CHECK(index.Find(tag, [](uint64_t loc) { return loc == kNewLoc; }) ==
             free_slot);
  return 0;
}
