#include "src/mcache/tinylfu_policy.h"

#include <algorithm>
#include <cmath>

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
constexpr double kMaxStepShare = 0.25;
constexpr double kExploreShare = 0.0625;
// Weight of the newest sample in the running mean of |hit-ratio change|
// while the window stands still.
constexpr double kStillWeight = 0.25;
// How many standard deviations of sampling noise a hit-ratio change must
// exceed to count as evidence.
constexpr double kSignificance = 2.5;
// The climber's sample, in requests: enough to measure a hit ratio to about
// half a point, few enough to adapt within a few hundred thousand.
constexpr uint64_t kClimbSample = 16 << 10;

}  // namespace

TinyLfuPolicy::TinyLfuPolicy(const TinyLfuOptions& options)
    : learn_capacity_(options.capacity == 0),
      adaptive_(options.adaptive),
      sample_factor_(std::max<size_t>(options.sample_factor, 1)),
      capacity_(options.capacity != 0 ? options.capacity : kDefaultCapacity),
      window_target_(std::max(
          1.0, options.initial_window * static_cast<double>(capacity_))),
      sketch_(capacity_, sample_factor_),
      sketch_capacity_(capacity_) {
  SetLimits();
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
  climb_sample_ = std::max<uint64_t>(kClimbSample, 2 * capacity_);
}

void TinyLfuPolicy::LearnCapacity() {
  if (!learn_capacity_) return;
  const size_t now = window_.size() + main_size();
  if (now == capacity_ || now == 0) return;
  const double share = window_target_ / static_cast<double>(capacity_);
  const size_t old = capacity_;
  capacity_ = now;
  window_target_ = share * static_cast<double>(capacity_);
  last_move_ =
      last_move_ / static_cast<double>(old) * static_cast<double>(capacity_);
  SetLimits();
  // Resizing forgets every count, so only when the size is far off.
  if (capacity_ >= 2 * sketch_capacity_ || 2 * capacity_ <= sketch_capacity_) {
    sketch_.Resize(capacity_);
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
  sketch_.Increment(e->hash);
  ++sample_misses_;
  e->policy_queue = kWindow;
  window_.PushBack(e);
  // While the cache is filling there is no one to displace: the window's
  // overflow goes straight to main. Once full, ChooseVictim() decides.
  while (window_.size() > window_max_ &&
         main_size() < capacity_ - window_max_) {
    MoveWindowFrontToMain();
  }
  MaybeClimb();
}

void TinyLfuPolicy::RecordAccess(Entry* e) {
  sketch_.Increment(e->hash);
  ++sample_hits_;
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
  MaybeClimb();
}

void TinyLfuPolicy::RecordRemove(Entry* e) {
  ListOf(e).Remove(e);
  e->policy_queue = 0;
}

Entry* TinyLfuPolicy::ChooseVictim() {
  if (!full_) {
    full_ = true;
    sample_hits_ = sample_misses_ = 0;
  }
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
    if (sketch_.Estimate(candidate->hash) > sketch_.Estimate(victim->hash)) {
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

void TinyLfuPolicy::MaybeClimb() {
  if (!adaptive_) return;
  const uint64_t requests = sample_hits_ + sample_misses_;
  if (requests < climb_sample_) return;
  const double hit_ratio =
      static_cast<double>(sample_hits_) / static_cast<double>(requests);
  sample_hits_ = sample_misses_ = 0;
  // A filling cache's hit ratio says nothing of the window, nor does the
  // first sample after it fills: the cache then still holds what arrived
  // last, as an LRU would, whatever the window.
  if (!full_ || ++samples_since_full_ < 2) return;
  const double max_step = kMaxStepShare * static_cast<double>(capacity_);
  // Exploring moves towards the middle, the only direction open at a bound.
  const double explore =
      window_target_ > static_cast<double>(capacity_) / 2 ? -1 : 1;
  double move = 0;
  bool settle = false;
  if (rebaseline_) {
    // The last move undid a harmful one: measure where we are, don't move.
    rebaseline_ = false;
  } else if (previous_hit_ratio_ < 0) {
    // The first sample past the warm-up is the baseline: explore from it
    // with a long stride, since a small change of the window often makes no
    // measurable difference.
    move = explore * max_step;
  } else {
    const double change = hit_ratio - previous_hit_ratio_;
    // A change smaller than the sampling noise of two hit ratios is no
    // evidence; reacting to it would make the window wander at random.
    // Real workloads vary more than binomial noise (a loop's phase, bursts):
    // how much the hit ratio moves while the window stands still is the
    // better measure when it is larger.
    const double variance = std::max(hit_ratio * (1 - hit_ratio), 1e-4);
    const double noise = std::max(
        kSignificance * std::sqrt(2 * variance / static_cast<double>(requests)),
        kSignificance * still_change_);
    if (last_move_ == 0) {
      still_change_ =
          (1 - kStillWeight) * still_change_ + kStillWeight * std::abs(change);
      // Settled. A change well beyond the noise means the workload changed:
      // explore again, with a short stride (real workloads vary more than
      // the binomial noise model says, and each exploration costs).
      if (std::abs(change) > 2 * noise) {
        move = explore * kExploreShare * static_cast<double>(capacity_);
      }
    } else if (change > noise) {
      // The last move helped: go on the same way, with a longer stride.
      move = std::copysign(std::min(2 * std::abs(last_move_), max_step),
                           last_move_);
    } else if (change < -noise && last_move_ < 0) {
      // Shrinking hurt: undo it and settle. (Halving back and forth would
      // not do: a shrink's harm keeps growing for a while as the freed room
      // fills, so it would also make the next step look harmful.)
      move = -last_move_;
      settle = true;
    } else if (change < -noise || last_move_ > 0) {
      // Growing hurt, or helped no measurably: step back by half of it. A
      // smaller window is the better bet in doubt, since it leaves more
      // room to the frequency-filtered main.
      move = -last_move_ / 2;
    } else {
      // Shrinking made no measurable difference: shrink on.
      move = last_move_;
    }
  }
  previous_hit_ratio_ = hit_ratio;
  if (std::abs(move) < 1) move = 0;
  const double before = window_target_;
  window_target_ += move;
  SetLimits();
  last_move_ = window_target_ - before;  // after clamping
  if (settle) {
    last_move_ = 0;
    rebaseline_ = true;
  }
  DemoteProtectedOverflow();
}

}  // namespace mcache_internal
}  // namespace ucache
