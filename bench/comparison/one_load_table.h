// OneLoadTable: the limit of workload 1's gets for any store that finds a
// value by a hash of its key. Each key sits with its value in one slot of
// two cache lines at the key's hash (open addressing, linear probing, at
// most half full), in heap memory of 4 KiB pages: a get reads the caller's
// key, hashes it (XXH3-64, as fcache does), compares the slot's key and
// copies the value. Reaching a value by its key takes no fewer dependent
// loads on a machine whose caches do not hold the data: the key's, then the
// slot's. Its get is also short (about 140 instructions with the harness's
// loop, callgrind), so the CPU runs one get's misses while the last one's
// are still outstanding. It checks no checksum, takes no lock and survives
// nothing: a measuring stick, not a store.

#ifndef UCACHE_BENCH_COMPARISON_ONE_LOAD_TABLE_H_
#define UCACHE_BENCH_COMPARISON_ONE_LOAD_TABLE_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "bench/comparison/data.h"
#include "bench/comparison/store.h"

namespace ucache::bench {

class OneLoadTable : public Reader {
 public:
  // Holds keys[i] -> values[i] for every key.
  OneLoadTable(const Keys& keys, const Values& values);

  Status Get(std::string_view key, std::string* value) override;

 private:
  struct FreeBytes {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  // The slot of `key`: the one holding it, or the empty one ending its probe.
  uint8_t* SlotOf(std::string_view key) const;

  uint64_t slot_bytes_;
  uint64_t mask_;  // slot count - 1
  std::unique_ptr<uint8_t[], FreeBytes> slots_;
};

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_ONE_LOAD_TABLE_H_
