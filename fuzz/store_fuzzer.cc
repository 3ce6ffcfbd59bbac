// Fuzzes opening a directory of arbitrary files as a store and using it:
// FileCache::Open, then Get/GetView/Contains, ForEachKey, GetStats, Verify,
// and on a writable handle Put, Erase, Compact and a second handle.
//
// Input: one flags byte, then files, each as a name selector byte, a 24-bit
// little-endian length and that many bytes (the last may be cut short).
// At most kMaxFiles files are read; the rest of the input is ignored.
//   selector % 6: index, log.0000000000000001, log.0000000000000002,
//                 index.tmp, lock, log.0000000000000003
//   flags bit 0   seal each index's prelude and fit its size to its
//                 capacity (up to 2^16 slots);
//   flags bit 1   seal each log's prelude and every record that parses;
//   flags bit 2   open read-only;
//   flags bit 3   store values uncompressed;
//   flags bit 4   max_bytes = 256 KiB, so that puts may evict.
// Properties checked besides "no crash, no sanitizer report, no exception":
//  * Get and GetView agree (both miss, or both return the same bytes);
//  * a key Put and then read back returns what was put; an erased key
//    misses;
//  * after a successful Compact, Verify is clean and a second handle reads
//    the same values.

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "src/fcache/format.h"
#include "src/fcache/record.h"
#include "tests/forge.h"
#include "ucache/file_cache.h"

namespace ucache::fuzz {
namespace {

// Enough to name every kind of file twice; more would only slow each run.
constexpr int kMaxFiles = 8;
constexpr const char* kNames[] = {
    "index", "log.0000000000000001", "log.0000000000000002", "index.tmp",
    "lock",  "log.0000000000000003"};

// Up to `max` keys of records that parse in the log image `log`.
void CollectKeys(const std::string& log, size_t max,
                 std::vector<std::string>* keys) {
  const AlignedBytes image(log);
  uint64_t pos = fcache_internal::kLogHeaderSize;
  fcache_internal::RecordView r;
  while (keys->size() < max &&
         fcache_internal::ParseRecord(image.data(), image.size(), pos, &r)) {
    keys->emplace_back(r.key);
    pos += r.size;
  }
}

// Get and GetView of `key` agree; returns the value, or "" on a miss.
std::string ReadBothWays(FileCache& fc, const std::string& key, bool* hit) {
  std::string value;
  const Status s = fc.Get(key, &value);
  ValueView view;
  const Status sv = fc.GetView(key, &view);
  fc.Contains(key);
  if (s.ok() && sv.ok()) FUZZ_CHECK(view.data() == value);
  if (s.IsNotFound()) FUZZ_CHECK(!sv.ok());
  *hit = s.ok();
  return s.ok() ? value : "";
}

void ExpectValue(FileCache& fc, const std::string& key,
                 const std::string& want) {
  bool hit = false;
  const std::string got = ReadBothWays(fc, key, &hit);
  FUZZ_CHECK(hit);
  FUZZ_CHECK(got == want);
}

void Exercise(const std::string& dir, uint8_t flags,
              std::vector<std::string> keys) {
  FileCacheOptions options;
  options.read_only = flags & 4;
  if (flags & 8) options.compression = Compression::kNone;
  if (flags & 16) options.max_bytes = 256 << 10;
  options.compaction_min_bytes = 8 << 10;
  Result<std::unique_ptr<FileCache>> opened = FileCache::Open(dir, options);
  if (!opened.ok()) return;
  FileCache& fc = **opened;
  bool hit = false;
  for (const std::string& key : keys) ReadBothWays(fc, key, &hit);
  std::vector<std::string> listed;
  // Only that nothing crashes or hangs matters here, not what they return.
  fc.ForEachKey([&](std::string_view key) {
      if (listed.size() < 8) listed.emplace_back(key);
    }).IgnoreError();
  for (const std::string& key : listed) ReadBothWays(fc, key, &hit);
  fc.GetStats().status().IgnoreError();
  fc.Verify().status().IgnoreError();
  if (options.read_only) return;

  const std::string fresh(300, 'f');
  bool fresh_stored = false;
  if (fc.Put("fuzz/new", fresh).ok()) {
    ExpectValue(fc, "fuzz/new", fresh);
    fresh_stored = true;
  }
  if (!keys.empty() && fc.Put(keys[0], "overwritten").ok()) {
    ExpectValue(fc, keys[0], "overwritten");
  }
  if (keys.size() > 1 && keys[1] != keys[0] && fc.Erase(keys[1]).ok()) {
    std::string value;
    FUZZ_CHECK(!fc.Get(keys[1], &value).ok());
  }
  if (!fc.Compact().ok()) return;
  Result<VerifyReport> report = fc.Verify();
  FUZZ_CHECK(report.ok() && report->clean());
  // Under max_bytes, the later puts may have evicted it.
  if (fresh_stored && options.max_bytes == 0) {
    ExpectValue(fc, "fuzz/new", fresh);
    Result<std::unique_ptr<FileCache>> second = FileCache::Open(dir, options);
    FUZZ_CHECK(second.ok());
    ExpectValue(**second, "fuzz/new", fresh);
  }
}

}  // namespace
}  // namespace ucache::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ucache;
  using namespace ucache::fuzz;
  InputReader in(data, size);
  const uint8_t flags = in.U8();
  const std::string& dir = ScratchDir();
  EmptyDir(dir);
  std::vector<std::string> keys;
  for (int files = 0; files < kMaxFiles && !in.empty(); ++files) {
    const uint8_t selector = in.U8() % 6;
    const uint32_t len = in.U24();
    std::string file(in.Bytes(len));
    const std::string name = kNames[selector];
    if (name.rfind("log.", 0) == 0) {
      if (flags & 2) {
        SealFilePrelude(fcache_internal::kLogMagic, &file);
        SealRecords(&file);
      }
      CollectKeys(file, 8, &keys);
    } else if (name.rfind("index", 0) == 0 && (flags & 1) &&
               file.size() >= sizeof(fcache_internal::FilePrelude)) {
      SealFilePrelude(fcache_internal::kIndexMagic, &file);
      uint64_t capacity;
      std::memcpy(&capacity,
                  file.data() + offsetof(fcache_internal::FilePrelude, capacity),
                  sizeof(capacity));
      if (capacity <= (uint64_t{1} << 16)) {
        file.resize(fcache_internal::IndexFileBytes(capacity), '\0');
      }
    }
    WriteFileOrDie(dir + "/" + name, file);
  }
  // The API promises values, never exceptions.
  try {
    Exercise(dir, flags, std::move(keys));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exception: %s\n", e.what());
    FUZZ_CHECK(!"an exception escaped the FileCache API");
  }
  return 0;
}
