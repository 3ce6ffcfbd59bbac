// A store directory built and driven below FileCache, for the unit tests of
// the components that write generations (compactor, writer): the lock file
// and the current generation opened directly, and helpers that put records
// into a log and point slots at them by hand, so that a test can make any
// state (duplicate slots, damaged records, leftover logs) and then call the
// component under test on it.
//
// Thread safety: none; one test thread.

#ifndef UCACHE_TESTS_FCACHE_FIXTURE_H_
#define UCACHE_TESTS_FCACHE_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "src/fcache/compactor.h"
#include "src/fcache/format.h"
#include "src/fcache/generation.h"
#include "src/fcache/lock_file.h"
#include "tests/testutil.h"
#include "ucache/file_cache.h"

namespace ucache::fcache_internal {

class StoreTest : public testing::Test {
 protected:
  // `env` is the FaultEnv every file of the store goes through.
  explicit StoreTest(
      std::shared_ptr<FaultEnv> env = std::make_shared<FaultEnv>());

  // Makes the store directory, opens its lock file and publishes an empty
  // generation with log 1 (as the first open of a store does).
  void SetUp() override;

  // Options that store values raw, so record sizes are plain arithmetic.
  static FileCacheOptions RawOptions();
  static uint64_t KeyTag(std::string_view key);
  std::string Path(std::string_view name) const {
    return dir_ + "/" + std::string(name);
  }

  // Writes a record at gen_'s log_end and moves log_end past it, in the
  // index and in the lock file, touching no slot (an orphan until
  // PointSlot). Returns its offset.
  uint64_t AppendRecord(RecordKind kind, std::string_view key,
                        std::string_view value, int64_t expires_ms = 0);
  // Points the key's slot (the first in its chain whose record holds the
  // key, else the first free one) at `loc`, keeping the counters as a
  // writer would.
  void PointSlot(std::string_view key, uint64_t loc);
  // AppendRecord and PointSlot: a put as a writer makes it.
  uint64_t Put(std::string_view key, std::string_view value,
               int64_t expires_ms = 0);
  // An erase as a writer makes it: the record, then a tombstone.
  void Erase(std::string_view key);

  // The value `gen` serves for `key`, as a reader finds it: the first slot
  // of the key's tag whose record parses and holds the key; nullopt for a
  // miss, an erase or a value that fails verification.
  static std::optional<std::string> Get(const Generation& gen,
                                        std::string_view key);
  std::optional<std::string> Get(std::string_view key) const {
    return Get(*gen_, key);
  }
  // How many slots of `gen` name a record of `key`.
  static int SlotsNaming(const Generation& gen, std::string_view key);

  // Creates log `log_id` holding puts of `records` (key, value) back to
  // back, as a leftover or older log would. Returns the offsets.
  std::vector<uint64_t> WriteLog(
      uint64_t log_id,
      const std::vector<std::pair<std::string, std::string>>& records);
  // XORs the byte at `offset` of the store file `name` with `mask`.
  void FlipByte(std::string_view name, uint64_t offset, uint8_t mask = 0x01);

  TempDir tmp_;
  const std::string dir_;
  const std::shared_ptr<FaultEnv> env_;
  std::unique_ptr<LockFile> lock_;
  std::unique_ptr<Generation> gen_;
};

}  // namespace ucache::fcache_internal

#endif  // UCACHE_TESTS_FCACHE_FIXTURE_H_
