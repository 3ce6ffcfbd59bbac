// TinyLfuPolicy: W-TinyLFU with an adaptive window, after Caffeine's design
// (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
// Policy", and Caffeine's hill-climbing window).
//
// Entries live in three LRU lists:
//   window     new entries.
//   probation  main area, entries not yet used since they entered it.
//   protected  main area, entries used while in main; at most 95% of main
//              (Caffeine's 80% left too little shelter at small sizes, see
//              kProtectedShare).
// An entry pushed out of the window is a candidate for main. When the cache
// is full it must beat main's victim (probation's LRU entry) on estimated
// frequency (FrequencySketch, counting hits and inserts) to be admitted;
// otherwise the candidate itself is evicted. Ties keep the victim. A hit in
// probation promotes to protected; protected's overflow is demoted back to
// probation.
//
// Adaptive window. The window starts as the whole cache, so a new cache
// behaves as an LRU, and a hill climber moves it while the workload says a
// move pays. After each sample of requests (twice the capacity, at least
// 16Ki) it compares the sample's hit ratio with the previous one's:
//  * Better by more than the noise: move again the same way, twice as far
//    (at most a quarter of the capacity at a time).
//  * A shrink made it worse: undo it and settle. (A shrink's harm grows for
//    a while as the freed room fills, so it also spoils the next sample.)
//  * A growth made it worse, or helped no measurably: go back half of it.
//  * A shrink made no difference: shrink on.
// "Noise" is 2.5 standard deviations of the difference of two binomial
// hit ratios, or 2.5x the mean change seen while the window stood still,
// whichever is larger (loops and periodic scans make samples differ by more
// than chance). Moves start from the middle-most direction by a quarter of
// the capacity; a settled window explores again, by 1/16 of the capacity,
// when the hit ratio jumps by twice the noise. Frequency-skewed workloads
// end with a window of a few entries (main is frequency-filtered); recency-
// heavy ones end at (or return to) the whole cache. The first sample after
// the cache fills is ignored: it still holds what arrived last, whatever
// the window. Hits and inserts are the climber's hits and misses.
//
// The policy counts entries, not bytes: window and protected shares are
// shares of the entry count. Under a byte bound the capacity is learnt from
// how many entries the shard holds when it first has to evict, and relearnt
// at every eviction (the sketch is resized when it doubles).

#ifndef UCACHE_SRC_MCACHE_TINYLFU_POLICY_H_
#define UCACHE_SRC_MCACHE_TINYLFU_POLICY_H_

#include <cstddef>
#include <cstdint>

#include "src/mcache/entry.h"
#include "src/mcache/frequency_sketch.h"
#include "src/mcache/policy.h"

namespace ucache {
namespace mcache_internal {

struct TinyLfuOptions {
  // Capacity in entries. When zero, learnt from evictions (see above).
  size_t capacity = 0;
  // The window's share of the capacity at the start (at least one entry).
  // Default 1.0: the whole cache, i.e. LRU until the climber moves it.
  double initial_window = 1.0;
  // Hill-climb the window size. Default true.
  bool adaptive = true;
  // The sketch's memory: counters are halved after this many times the
  // capacity increments. Default 20 (Caffeine uses 10; longer memory measured
  // better on skewed workloads here, see bench/hit_ratio.cc).
  size_t sample_factor = 20;
};

class TinyLfuPolicy final : public Policy {
 public:
  explicit TinyLfuPolicy(const TinyLfuOptions& options);

  void RecordInsert(Entry* e) override;
  void RecordAccess(Entry* e) override;
  void RecordRemove(Entry* e) override;
  Entry* ChooseVictim() override;
  std::string_view name() const override { return "tinylfu"; }

  // For tests and the simulator.
  size_t window_size() const { return window_.size(); }
  size_t probation_size() const { return probation_.size(); }
  size_t protected_size() const { return protected_.size(); }
  size_t window_max() const { return window_max_; }
  size_t protected_max() const { return protected_max_; }
  size_t capacity() const { return capacity_; }
  const FrequencySketch& sketch() const { return sketch_; }

 private:
  enum Queue : uint8_t { kWindow = 1, kProbation = 2, kProtected = 3 };

  EntryList& ListOf(const Entry* e);
  size_t main_size() const { return probation_.size() + protected_.size(); }
  // Recomputes the segment maxima from capacity_ and window_target_.
  void SetLimits();
  // Learns the capacity from the entry count at eviction time.
  void LearnCapacity();
  // Demotes protected's overflow to probation.
  void DemoteProtectedOverflow();
  // Moves the window's LRU entry to probation's MRU end.
  void MoveWindowFrontToMain();
  // One hill-climbing step, once a sample is complete.
  void MaybeClimb();

  const bool learn_capacity_;
  const bool adaptive_;
  const size_t sample_factor_;

  size_t capacity_;
  double window_target_;  // entries; fractional so that small steps add up
  size_t window_max_ = 1;
  size_t protected_max_ = 0;

  EntryList window_;
  EntryList probation_;
  EntryList protected_;
  FrequencySketch sketch_;
  size_t sketch_capacity_;  // the capacity the sketch was sized for

  // Hill climber state.
  uint64_t climb_sample_ = 0;  // requests per sample
  bool full_ = false;  // the shard has evicted: samples measure the window
  uint64_t samples_since_full_ = 0;
  uint64_t sample_hits_ = 0;
  uint64_t sample_misses_ = 0;
  double previous_hit_ratio_ = -1;  // none yet
  double last_move_ = 0;            // entries, signed; 0 = settled
  bool rebaseline_ = false;         // take the next sample as a new baseline
  double still_change_ = 0;         // mean |hit-ratio change| while settled
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_TINYLFU_POLICY_H_
