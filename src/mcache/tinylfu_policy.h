// TinyLfuPolicy: W-TinyLFU with an adaptive window, after Caffeine's design
// (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
// Policy", and Caffeine's hill-climbing window).
//
// Entries live in three LRU lists:
//   window     new entries; starts at 1% of the capacity.
//   probation  main area, entries not yet used since they entered it.
//   protected  main area, entries used while in main; at most 80% of main.
// An entry pushed out of the window is a candidate for main. When the cache
// is full it must beat main's victim (probation's LRU entry) on estimated
// frequency (FrequencySketch, counting hits and inserts) to be admitted;
// otherwise the candidate itself is evicted. A hit in probation promotes to
// protected; protected's overflow is demoted back to probation.
//
// Adaptive window: every sample_factor * capacity uses the policy compares
// the sample's hit ratio with the previous one and moves the window size a
// step in the direction that helped (hill climbing). The step restarts at
// 6.25% of the capacity when the hit ratio changes by 5 points or more and
// otherwise decays by 2% a sample, so the window settles. Recency-heavy
// workloads grow the window towards plain LRU; frequency-heavy ones shrink it.
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
namespace mcache {

struct TinyLfuOptions {
  // Capacity in entries. When zero, learnt from evictions (see above).
  size_t capacity = 0;
  // The window's share of the capacity at the start. Default 1%.
  double initial_window = 0.01;
  // Hill-climb the window size. Default true.
  bool adaptive = true;
  // Sketch reset period and climber sample, in multiples of the capacity.
  size_t sample_factor = 10;
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

  // Hill climber state.
  uint64_t sample_hits_ = 0;
  uint64_t sample_misses_ = 0;
  double previous_hit_ratio_ = -1;  // none yet
  double step_;
};

}  // namespace mcache
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_TINYLFU_POLICY_H_
