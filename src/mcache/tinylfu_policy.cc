#include "src/mcache/tinylfu_policy.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "src/mcache/entry_table.h"

namespace ucache {
namespace mcache_internal {

namespace {

constexpr size_t kDefaultCapacity = 1024;
// Protected's share of main. Caffeine uses 80%; more measured better here.
// Every miss pits a candidate against probation's LRU entry, so probation is
// where noisy frequency estimates cost hits; a small cache, whose sketch sees
// few uses of each key before it ages them, has the noisiest estimates and
// the most misses. 95% against 80%, bench/hit_ratio (seed 42): Zipf 0.8 at
// 0.1% +0.78 points, 1% +0.82; Zipf 0.99 at 0.1% +0.75; at 10% of the keys,
// where estimates are good and a roomier probation pays, -0.19 and -0.09.
constexpr double kProtectedShare = 0.95;
// The shadows' window shares: Caffeine's default, a middle, and an LRU.
constexpr double kShadowShares[] = {0.01, 0.2, 1.0};
// The least capacity a shadow is simulated at: a miniature of a few dozen
// entries would have too coarse a window and sketch to stand for the full
// cache (chosen, not tuned). Sampling is at most 1/64, so that a 10M-request
// trace at 100,000 entries still feeds each shadow about 156,000 requests;
// 1/32 measured no better there (BENCHMARKS.md, issue 12).
constexpr size_t kMinShadowEntries = 256;
constexpr int kMaxSampleShift = 6;
// Sampled requests per decision, in shadow capacities, and at least. At
// 100,000 entries, 1 flapped and 4 followed too slowly (zipf+loop 60.75 and
// 60.48 against 61.04 with 2).
constexpr uint64_t kDecisionShadowCapacities = 2;
constexpr uint64_t kMinDecisionPeriod = 1024;

}  // namespace

// A miniature cache: a fixed-window TinyLfuPolicy over entries that carry
// only the key's hash (64-bit hashes stand in for keys, as their 8 bytes).
class TinyLfuPolicy::ShadowCache {
 public:
  // `sketch`, which the owner counts, must be sized for `capacity`.
  ShadowCache(size_t capacity, double window_share, size_t sample_factor,
              FrequencySketch* sketch)
      : capacity_(capacity),
        policy_(TinyLfuOptions{capacity, window_share, /*adaptive=*/false,
                               sample_factor},
                sketch),
        entries_(&policy_) {
    entries_.Reserve(capacity + 1);
  }

  void Request(uint64_t hash) {
    const std::string_view key(reinterpret_cast<const char*>(&hash),
                               sizeof(hash));
    if (Entry* e = entries_.Find(key, hash)) {
      ++hits_;
      policy_.RecordAccess(e);
      return;
    }
    policy_.RecordInsert(entries_.Insert(key, hash));
    while (entries_.size() > capacity_) {
      Entry* victim = policy_.ChooseVictim();
      policy_.RecordRemove(victim);
      entries_.Remove(victim);
    }
  }

  // Hits that change nothing but the hit count: repeats of the previous
  // Request (see TinyLfuPolicy::Shadow).
  void CountHits(uint64_t n) { hits_ += n; }

  // Hits, with each earlier decision period weighing half the next.
  uint64_t hits() const { return hits_; }
  void Decay() { hits_ /= 2; }

 private:
  const size_t capacity_;
  TinyLfuPolicy policy_;
  EntryTable entries_;
  uint64_t hits_ = 0;
};

TinyLfuPolicy::TinyLfuPolicy(const TinyLfuOptions& options)
    : TinyLfuPolicy(options, /*shared_sketch=*/nullptr) {}

TinyLfuPolicy::TinyLfuPolicy(const TinyLfuOptions& options,
                             FrequencySketch* shared_sketch)
    : learn_capacity_(options.capacity == 0),
      adaptive_(options.adaptive),
      sample_factor_(std::max<size_t>(options.sample_factor, 1)),
      capacity_(options.capacity != 0 ? options.capacity : kDefaultCapacity),
      window_target_(std::max(
          1.0, options.initial_window * static_cast<double>(capacity_))),
      own_sketch_(shared_sketch != nullptr ? nullptr
                                           : std::make_unique<FrequencySketch>(
                                                 capacity_, sample_factor_)),
      sketch_(shared_sketch != nullptr ? shared_sketch : own_sketch_.get()),
      sketch_capacity_(capacity_) {
  SetLimits();
  BuildShadows();
}

TinyLfuPolicy::~TinyLfuPolicy() = default;

void TinyLfuPolicy::BuildShadows() {
  if (!adaptive_) return;
  int shift = 0;
  while (shift < kMaxSampleShift &&
         (capacity_ >> (shift + 1)) >= kMinShadowEntries) {
    ++shift;
  }
  sample_mask_ = (uint64_t{1} << shift) - 1;
  const size_t shadow_capacity = std::max<size_t>(capacity_ >> shift, 1);
  decision_period_ = std::max<uint64_t>(
      kMinDecisionPeriod, kDecisionShadowCapacities * shadow_capacity);
  sampled_requests_ = 0;
  have_last_sampled_ = false;
  uncounted_repeats_ = 0;
  shadows_.clear();
  shadow_sketch_ =
      std::make_unique<FrequencySketch>(shadow_capacity, sample_factor_);
  for (double share : kShadowShares) {
    shadows_.push_back(std::make_unique<ShadowCache>(
        shadow_capacity, share, sample_factor_, shadow_sketch_.get()));
  }
  // The shadow whose window is nearest the one in force.
  const double share = window_target_ / static_cast<double>(capacity_);
  chosen_ = 0;
  for (size_t i = 0; i < shadows_.size(); ++i) {
    if (std::abs(kShadowShares[i] - share) <
        std::abs(kShadowShares[chosen_] - share)) {
      chosen_ = i;
    }
  }
}

EntryList& TinyLfuPolicy::ListOf(const Entry* e) {
  switch (e->policy_queue) {
    case kWindow:
      return window_;
    case kProbation:
      return probation_;
    default:
      return protected_;
  }
}

void TinyLfuPolicy::SetLimits() {
  const double cap = static_cast<double>(capacity_);
  // The window keeps at least one entry, and main at least one when the
  // capacity allows.
  window_target_ = std::clamp(window_target_, 1.0, std::max(1.0, cap - 1));
  window_max_ = static_cast<size_t>(window_target_);
  const size_t main_max = capacity_ > window_max_ ? capacity_ - window_max_ : 0;
  protected_max_ =
      static_cast<size_t>(kProtectedShare * static_cast<double>(main_max));
}

void TinyLfuPolicy::LearnCapacity() {
  if (!learn_capacity_) return;
  const size_t now = window_.size() + main_size();
  if (now == capacity_ || now == 0) return;
  const double share = window_target_ / static_cast<double>(capacity_);
  capacity_ = now;
  window_target_ = share * static_cast<double>(capacity_);
  SetLimits();
  // Resizing forgets every count, so only when the size is far off.
  if (capacity_ >= 2 * sketch_capacity_ || 2 * capacity_ <= sketch_capacity_) {
    sketch_->Resize(capacity_);
    BuildShadows();
    sketch_capacity_ = capacity_;
  }
}

void TinyLfuPolicy::DemoteProtectedOverflow() {
  while (protected_.size() > protected_max_ && !protected_.empty()) {
    Entry* e = protected_.front();
    protected_.Remove(e);
    e->policy_queue = kProbation;
    probation_.PushBack(e);
  }
}

void TinyLfuPolicy::MoveWindowFrontToMain() {
  Entry* e = window_.front();
  window_.Remove(e);
  e->policy_queue = kProbation;
  probation_.PushBack(e);
}

void TinyLfuPolicy::RecordInsert(Entry* e) {
  Count(e->hash);
  Shadow(e->hash);
  e->policy_queue = kWindow;
  window_.PushBack(e);
  // While the cache is filling there is no one to displace: the window's
  // overflow goes straight to main. Once full, ChooseVictim() decides.
  while (window_.size() > window_max_ &&
         main_size() < capacity_ - window_max_) {
    MoveWindowFrontToMain();
  }
}

void TinyLfuPolicy::Reorder(Entry* e) {
  switch (e->policy_queue) {
    case kWindow:
      window_.MoveToBack(e);
      break;
    case kProbation:
      probation_.Remove(e);
      e->policy_queue = kProtected;
      protected_.PushBack(e);
      DemoteProtectedOverflow();
      break;
    default:
      protected_.MoveToBack(e);
      break;
  }
}

void TinyLfuPolicy::RecordAccesses(Entry* e, uint64_t n) {
  Count(e->hash, n);
  if (Sampled(e->hash)) {
    // A shadow's decision may move the lists between two uses.
    for (; n > 0; --n) {
      Shadow(e->hash);
      Reorder(e);
    }
    return;
  }
  // Unsampled, a use only reorders, and a second use right after the first
  // moves nothing: `e` is then the newest of the window or of protected, or,
  // where protected may hold nothing, goes through it back to the newest end
  // of probation, where it was.
  Reorder(e);
}

void TinyLfuPolicy::RecordRemove(Entry* e) {
  ListOf(e).Remove(e);
  e->policy_queue = 0;
}

Entry* TinyLfuPolicy::ChooseVictim() {
  LearnCapacity();
  while (window_.size() > window_max_) {
    Entry* candidate = window_.front();
    Entry* victim =
        !probation_.empty() ? probation_.front() : protected_.front();
    if (victim == nullptr || main_size() < capacity_ - window_max_) {
      // Main has room (it shrank, or the window just did): no contest.
      MoveWindowFrontToMain();
      continue;
    }
    // TinyLFU admission: the candidate displaces the victim only if it is
    // used more often. Ties keep the victim, which protects main from
    // one-hit wonders and scans.
    if (sketch_->Estimate(candidate->hash) > sketch_->Estimate(victim->hash)) {
      MoveWindowFrontToMain();
      return victim;
    }
    return candidate;
  }
  // The window is within its share: evict from main, which is over its share
  // (or the window grew into it).
  if (!probation_.empty()) return probation_.front();
  if (!protected_.empty()) return protected_.front();
  return window_.front();
}

void TinyLfuPolicy::Shadow(uint64_t hash) {
  if (!Sampled(hash)) return;
  // A Request leaves its key in every shadow at the newest end of its list:
  // an insert's eviction takes the window's oldest entry or main's, never
  // the newcomer, since the window holds at least one entry; a hit moves
  // the key to the back of the window or protected, or, where protected may
  // hold none, through it to the back of probation. So a repeat of the
  // previous sampled request is a hit in each shadow that moves nothing:
  // its whole effect is the hit counts and a use in the sketch. Hits are
  // read only by Decide() and the sketch only by the shadows' next Request,
  // so a run of repeats is counted then, at once. A key hit again and again
  // (a loop's body, a memoized call) thus costs the shadows one counter
  // increment a hit.
  if (have_last_sampled_ && hash == last_sampled_) {
    ++uncounted_repeats_;
  } else {
    CountRepeats();
    shadow_sketch_->Increment(hash);
    for (auto& shadow : shadows_) shadow->Request(hash);
    last_sampled_ = hash;
    have_last_sampled_ = true;
  }
  if (++sampled_requests_ >= decision_period_) Decide();
}

void TinyLfuPolicy::CountRepeats() {
  if (uncounted_repeats_ == 0) return;
  shadow_sketch_->Increment(last_sampled_, uncounted_repeats_);
  for (auto& shadow : shadows_) shadow->CountHits(uncounted_repeats_);
  uncounted_repeats_ = 0;
}

std::vector<uint64_t> TinyLfuPolicy::shadow_hits() const {
  std::vector<uint64_t> hits;
  for (const auto& shadow : shadows_) {
    hits.push_back(shadow->hits() + uncounted_repeats_);
  }
  return hits;
}

void TinyLfuPolicy::Decide() {
  CountRepeats();
  sampled_requests_ = 0;
  // The current choice keeps ties: the shadows agree while they fill.
  size_t best = chosen_;
  for (size_t i = 0; i < shadows_.size(); ++i) {
    if (shadows_[i]->hits() > shadows_[best]->hits()) best = i;
  }
  for (auto& shadow : shadows_) shadow->Decay();
  if (best == chosen_) return;
  chosen_ = best;
  window_target_ = kShadowShares[best] * static_cast<double>(capacity_);
  SetLimits();
  DemoteProtectedOverflow();
}

}  // namespace mcache_internal
}  // namespace ucache
