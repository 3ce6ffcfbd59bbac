// The values memoize's API takes and returns (memoize.h): the statistics of
// a memoized function, the key selections (Ignore, KeyBy, AllArgs), and
// ArrayView, a result read without copying. Plain values: copy them and use
// them from any thread.

#ifndef UCACHE_MEMOIZE_TYPES_H_
#define UCACHE_MEMOIZE_TYPES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "ucache/internal/language_level.h"
#include "ucache/options.h"

namespace ucache {

struct MemoizeStats {
  uint64_t calls = 0;
  uint64_t hits = 0;  // served by a tier (the four below add up to it)
  uint64_t memory_hits = 0;
  uint64_t file_hits = 0;
  uint64_t remote_hits = 0;
  uint64_t fallback_hits = 0;
  uint64_t misses = 0;         // ran the function to fill the cache
  uint64_t waits = 0;          // joined a computation of this process in flight
  uint64_t peer_fills = 0;     // of the hits: found after waiting for another
                               // process that held the key's lock, or
                               // another machine its remote lease
  uint64_t lease_waits = 0;    // of peer_fills: the value came from another
                               // machine that held the remote lease
  uint64_t recursions = 0;     // same-key calls from inside the computation
  uint64_t exceptions = 0;     // computations that threw (nothing cached)
  uint64_t bypassed = 0;       // calls made while the cache was disabled
  uint64_t undecodable = 0;    // stored bytes that did not decode as R
                               // (treated as misses)
  double compute_seconds = 0;  // total time inside the function on misses
  Backend backend = Backend::kDisabled;  // the cache's active_backend()
  std::string reason;                    // and its active_reason()
};

// Key selection: leave out the arguments at positions I... (from 0).
template <size_t... I>
struct Ignore {};

// Key selection: the key is cereal's encoding of fn(args...).
template <class F>
struct KeyBy {
  F fn;
};
template <class F>
KeyBy(F) -> KeyBy<F>;

// Key selection: every argument (the default).
struct AllArgs {};

// A raw result read without copying (Memoized::view). The elements stay
// valid while the ArrayView (or a copy of it) lives, whatever happens to the
// cache.
template <class T>
class ArrayView {
 public:
  ArrayView() = default;
  ArrayView(const T* data, size_t size, std::shared_ptr<const void> keep_alive)
      : data_(data), size_(size), keep_alive_(std::move(keep_alive)) {}
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T& operator[](size_t i) const { return data_[i]; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

 private:
  const T* data_ = nullptr;
  size_t size_ = 0;
  std::shared_ptr<const void> keep_alive_;
};

}  // namespace ucache

#endif  // UCACHE_MEMOIZE_TYPES_H_
