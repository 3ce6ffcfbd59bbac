// TinyLfuPolicy: W-TinyLFU with an adaptive window, after Caffeine's design
// (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission
// Policy", and Caffeine's adaptive window).
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
// behaves as an LRU, and is then set by miniature simulation (Waldspurger et
// al., "Cache Modeling and Optimization using Miniature Simulations", 2017):
// three shadow W-TinyLFU caches with fixed windows (1%, 20% and 100% of
// their capacity) replay the requests of a hash-sampled subset of the keys,
// at the sampling rate times the capacity, and every decision period the
// window takes the share of the shadow with the most (decayed) hits. The
// shadows see the same requests at the same time, so their comparison is
// paired: a loop's phase or a periodic scan moves all three alike. A
// sequential hill climber (Caffeine's) instead compares one sample with the
// previous one, and measured here it could not follow: at 100,000 entries a
// scan of period 250,000 requests made successive samples differ by 5 to 12
// points whatever the window, and a sample of 10x the capacity (Caffeine's)
// leaves ten decisions in a trace of 10M requests (BENCHMARKS.md, issue 12).
// The shadows cost memory, about 500 bytes per sampled key of capacity:
// three 120-byte entries with their table slots, and one sketch that the
// three share, since each would count the same requests alike. The sample
// is 1/64 of the keys from 16,384 entries on, about 8 bytes per entry, but
// leaves shadows of at least 256 entries where the capacity allows, so a
// 1,000-entry shard carries three shadows of 500. And they cost time on the
// sampled requests (1/64 of them from 16,384 entries, 1/4 at 1,024, all
// below 512): a sketch increment, and in each shadow a table lookup and list
// moves, with an insert and an eviction on a miss. A repeat of the previous
// sampled request is exactly a hit in each shadow that moves nothing, so it
// only counts itself; its hits and sketch uses reach the shadows later, as a
// run (see Shadow()). One sampled key memoized and hit again and again,
// bench/memoize_benchmark BM_SmallHit/memory: 165 -> 81 ns (a bare map
// lookup 12.5 and 10.4 ns in the same runs), the shadows from 47% of its
// profile to 2%; bench/hit_ratio is unchanged to the last digit.
//
// The policy counts entries, not bytes: window and protected shares are
// shares of the entry count. Under a byte bound the capacity is learnt from
// how many entries the shard holds when it first has to evict, and relearnt
// at every eviction (the sketch is resized when it doubles).

#ifndef UCACHE_SRC_MCACHE_TINYLFU_POLICY_H_
#define UCACHE_SRC_MCACHE_TINYLFU_POLICY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "src/mcache/entry.h"
#include "src/mcache/frequency_sketch.h"
#include "src/mcache/policy.h"

namespace ucache {
namespace mcache_internal {

struct TinyLfuOptions {
  // Capacity in entries. When zero, learnt from evictions (see above).
  size_t capacity = 0;
  // The window's share of the capacity at the start (at least one entry).
  // Default 1.0: the whole cache, i.e. LRU until the shadows move it.
  double initial_window = 1.0;
  // Set the window size by miniature simulation. Default true.
  bool adaptive = true;
  // The sketch's memory: counters are halved after this many times the
  // capacity increments. Default 20 (Caffeine uses 10; longer memory measured
  // better on skewed workloads here, see bench/hit_ratio.cc).
  size_t sample_factor = 20;
};

class TinyLfuPolicy final : public Policy {
 public:
  explicit TinyLfuPolicy(const TinyLfuOptions& options);
  ~TinyLfuPolicy() override;

  void PrefetchAccess(const Entry& e) override {
    Policy::PrefetchAccess(e);
    sketch_->Prefetch(e.hash);
  }
  void RecordInsert(Entry* e) override;
  void RecordAccess(Entry* e) override { RecordAccesses(e, 1); }
  // Counts the n uses in the sketch at once (it is read only when choosing
  // a victim, so the counts come out as n increments' would), then replays
  // them in the shadows and the lists: all n when the key is sampled, else
  // only the first, the one use of the run that moves anything.
  void RecordAccesses(Entry* e, uint64_t n) override;
  void RecordRemove(Entry* e) override;
  void RecordMove(const Entry* from, Entry* to) override {
    ListOf(to).Moved(from, to);
  }
  Entry* ChooseVictim() override;
  std::string_view name() const override { return "tinylfu"; }

  // For tests and the simulator.
  size_t window_size() const { return window_.size(); }
  size_t probation_size() const { return probation_.size(); }
  size_t protected_size() const { return protected_.size(); }
  size_t window_max() const { return window_max_; }
  size_t protected_max() const { return protected_max_; }
  size_t capacity() const { return capacity_; }
  const FrequencySketch& sketch() const { return *sketch_; }
  // Each shadow's decayed hits, in the order of their windows (1%, 20%,
  // 100%); empty unless adaptive.
  std::vector<uint64_t> shadow_hits() const;

 private:
  enum Queue : uint8_t { kWindow = 1, kProbation = 2, kProtected = 3 };

  // A shadow's policy: it reads `shared_sketch`, which its owner counts
  // (null: the policy has and counts its own sketch).
  TinyLfuPolicy(const TinyLfuOptions& options, FrequencySketch* shared_sketch);

  // Counts `n` uses of `hash` in the sketch, unless the owner counts them.
  void Count(uint64_t hash, uint64_t n = 1) {
    if (own_sketch_ != nullptr) own_sketch_->Increment(hash, n);
  }

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
  // (Re)builds the shadows for capacity_.
  void BuildShadows();
  // Replays a request of `hash` in the shadows if it is sampled, and takes
  // a decision at the end of each period.
  void Shadow(uint64_t hash);
  // Whether the shadows replay requests of `hash`. Bits the shard (top),
  // the index (bottom) and the sketch (remixed) do not use alone, so the
  // sample is a fair one within a shard.
  bool Sampled(uint64_t hash) const {
    return !shadows_.empty() && ((hash >> 32) & sample_mask_) == 0;
  }
  // Moves `e`, just used, in the lists: to the newest end of the window or
  // of protected (promoted from probation).
  void Reorder(Entry* e);
  // Counts the previous sampled request's uncounted repeats in the shadows'
  // hits and sketch.
  void CountRepeats();
  void Decide();

  const bool learn_capacity_;
  const bool adaptive_;
  const size_t sample_factor_;

  size_t capacity_;
  double window_target_;  // entries
  size_t window_max_ = 1;
  size_t protected_max_ = 0;

  EntryList window_;
  EntryList probation_;
  EntryList protected_;
  std::unique_ptr<FrequencySketch> own_sketch_;  // null in a shadow
  FrequencySketch* sketch_;                      // own_sketch_ or the shared
  size_t sketch_capacity_;  // the capacity the sketch (and shadows) fit

  // Miniature simulation (empty unless adaptive_).
  class ShadowCache;
  // The shadows see the same requests and count each once, hit or miss, in
  // sketches of one size: theirs would be equal, so one serves all three.
  std::unique_ptr<FrequencySketch> shadow_sketch_;
  std::vector<std::unique_ptr<ShadowCache>> shadows_;
  uint64_t sample_mask_ = 0;       // a key is sampled if these bits are 0
  uint64_t decision_period_ = 0;   // sampled requests per decision
  uint64_t sampled_requests_ = 0;  // since the last decision
  size_t chosen_ = 0;              // index of the shadow in force
  // The previous sampled request's hash, if the shadows have seen one, and
  // its repeats since, not yet counted in the shadows' hits and sketch.
  uint64_t last_sampled_ = 0;
  bool have_last_sampled_ = false;
  uint64_t uncounted_repeats_ = 0;
};

}  // namespace mcache_internal
}  // namespace ucache

#endif  // UCACHE_SRC_MCACHE_TINYLFU_POLICY_H_
