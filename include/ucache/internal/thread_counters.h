// ThreadCounters: a set of event counters (hits, misses, calls) that many
// threads add to without an atomic read-modify-write. Not part of the API:
// memoize's and the selector's statistics are kept in these.
//
// Each thread adds to a block of its own with a plain load and store (one
// writer per block); a read sums the blocks. A small memoized hit counted
// three events with uncontended `lock add`s, which held 80% of the samples
// of the call around two of them.
//
// A block outlives the thread that used it: a thread that exits hands its
// blocks back, and the next thread to need one of that set takes it over
// with its counts, so a set holds at most as many blocks as threads ever
// used it at once. A thread whose thread-local state is already destroyed
// (a call from a static destructor at exit) adds with an atomic instead.
//
// Thread safety: Add and Sums may be called from many threads at once. Sums
// is exact for every Add that happened before it; concurrent ones may or
// may not be counted. The set must outlive every Add to it.

#ifndef UCACHE_INTERNAL_THREAD_COUNTERS_H_
#define UCACHE_INTERNAL_THREAD_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace ucache::counters_internal {

// Counters per set: enough for memoize's (15) in one 128-byte block.
inline constexpr size_t kCounters = 15;

struct alignas(64) Block {
  std::array<std::atomic<uint64_t>, kCounters> values{};
  std::atomic<bool> taken{false};  // a live thread adds to it
};

// The calling thread's recent sets and their blocks, direct-mapped by set
// id. Trivially constructed and destroyed, so that the inline Add reads it
// without a thread-local initialization check. Id 0 is no set.
struct CachedBlock {
  uint64_t set_id;
  Block* block;
};
inline constexpr size_t kCachedBlocks = 8;
extern thread_local constinit CachedBlock cached_blocks[kCachedBlocks];

class ThreadCounters {
 public:
  ThreadCounters();
  ~ThreadCounters();
  ThreadCounters(const ThreadCounters&) = delete;
  ThreadCounters& operator=(const ThreadCounters&) = delete;

  // Adds `n` to counter `i` (< kCounters).
  void Add(size_t i, uint64_t n = 1) {
    const CachedBlock& cached = cached_blocks[id_ % kCachedBlocks];
    if (cached.set_id == id_) {
      std::atomic<uint64_t>& v = cached.block->values[i];
      v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
      return;
    }
    AddSlow(i, n);
  }

  // Every counter's total.
  std::array<uint64_t, kCounters> Sums() const;

  // How many blocks threads have taken so far (live or handed back).
  size_t blocks() const;

 private:
  // Add for a thread without this set's block in its cache: finds or takes
  // one (or, at thread teardown, adds to shared_ atomically).
  void AddSlow(size_t i, uint64_t n);

  // Constant after construction: never reused, so a thread's cached entry
  // of a destroyed set never matches another set.
  const uint64_t id_;

  // For threads whose thread-local state is gone.
  Block shared_;

  mutable std::mutex mu_;
  // Every block threads took, live or handed back; threads share ownership
  // so that one exiting after the set's destruction still finds its block.
  std::vector<std::shared_ptr<Block>> blocks_;  // guarded by mu_
};

}  // namespace ucache::counters_internal

#endif  // UCACHE_INTERNAL_THREAD_COUNTERS_H_
