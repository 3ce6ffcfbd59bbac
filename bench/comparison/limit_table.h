// LimitTable: what workload 1's gets could cost on this machine, in the
// layouts a store could choose, without the rest of a store. Each is a hash
// table in heap memory of 4 KiB pages, keyed by XXH3-64 of the key (as
// fcache's index is), open addressing with linear probing, at most half
// full, filled once and never changed:
//  * kOneLoad: each key sits with its value in one slot of two cache lines
//    at the key's hash. A get reads the caller's key, hashes it and reads
//    one slot: reaching a value by its key takes no fewer dependent loads
//    on a machine whose caches do not hold the data. With verification, a
//    slot also holds a checksum of key, length and value, computed in two
//    steps with fcache's hash calls (doc/format.md, section 4).
//  * kTwoLoads: fcache's layout: its 16-byte slots (tag, offset) naming
//    records in a separate log, encoded by fcache's own EncodeRecord, so
//    that a get loads the slot, then the record. With verification, a get
//    reads the value through fcache's own ReadValue (a copy, then the
//    copy's checksum), as fcache's Get does.
// Nothing else of a store is there: no lock, no generation check, no bounds
// check of a record. A get short enough lets the CPU run one get's misses
// while the last one's are still outstanding; how many instructions stand
// between a get's first miss and the next get's decides it. Measuring
// sticks, not stores: nothing is checked but the checksum, nothing
// survives.

#ifndef UCACHE_BENCH_COMPARISON_LIMIT_TABLE_H_
#define UCACHE_BENCH_COMPARISON_LIMIT_TABLE_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "bench/comparison/data.h"
#include "bench/comparison/store.h"

namespace ucache::bench {

class LimitTable : public Reader {
 public:
  enum class Layout { kOneLoad, kTwoLoads };

  // Holds keys[i] -> values[i] for every key.
  LimitTable(const Keys& keys, const Values& values, Layout layout,
             bool verify);

  // NotFound on a miss; Corruption when a checksum fails.
  Status Get(std::string_view key, std::string* value) override;

 private:
  struct FreeBytes {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  // Zeroed bytes aligned to a page.
  static std::unique_ptr<uint8_t[], FreeBytes> Allocate(uint64_t bytes);

  // kOneLoad: the slot holding `key`, or the empty one ending its probe.
  uint8_t* OneLoadSlot(std::string_view key) const;
  Status GetOneLoad(std::string_view key, std::string* value) const;
  Status GetTwoLoads(std::string_view key, std::string* value) const;
  void PutOneLoad(std::string_view key, std::string_view value);
  void PutTwoLoads(std::string_view key, std::string_view value);

  const Layout layout_;
  const bool verify_;
  const uint64_t mask_;      // slot count - 1
  uint64_t slot_bytes_ = 0;  // kOneLoad
  std::unique_ptr<uint8_t[], FreeBytes> slots_;
  // kTwoLoads: a log header's room, then the records back to back, as a
  // log holds them.
  std::string log_;
};

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_LIMIT_TABLE_H_
