#include "src/mcache/tinylfu_policy.h"

#include <algorithm>
#include <cmath>

namespace ucache {
namespace mcache {

namespace {

constexpr size_t kDefaultCapacity = 1024;
constexpr double kProtectedShare = 0.8;
constexpr double kStepShare = 0.0625;
constexpr double kRestartThreshold = 0.05;
constexpr double kStepDecay = 0.98;

}  // namespace

TinyLfuPolicy::TinyLfuPolicy(const TinyLfuOptions& options)
    : learn_capacity_(options.capacity == 0),
      adaptive_(options.adaptive),
      sample_factor_(std::max<size_t>(options.sample_factor, 1)),
      capacity_(options.capacity != 0 ? options.capacity : kDefaultCapacity),
      window_target_(std::max(
          1.0, options.initial_window * static_cast<double>(capacity_))),
      sketch_(capacity_, sample_factor_),
      step_(kStepShare * static_cast<double>(capacity_)) {
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
}

void TinyLfuPolicy::LearnCapacity() {
  if (!learn_capacity_) return;
  const size_t now = window_.size() + main_size();
  if (now == capacity_ || now == 0) return;
  const double share = window_target_ / static_cast<double>(capacity_);
  const size_t old = capacity_;
  capacity_ = now;
  window_target_ = share * static_cast<double>(capacity_);
  step_ = step_ / static_cast<double>(old) * static_cast<double>(capacity_);
  SetLimits();
  if (capacity_ >= 2 * old || 2 * capacity_ <= old) sketch_.Resize(capacity_);
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
  if (requests < sample_factor_ * capacity_) return;
  const double hit_ratio =
      static_cast<double>(sample_hits_) / static_cast<double>(requests);
  sample_hits_ = sample_misses_ = 0;
  if (previous_hit_ratio_ < 0) {
    // The first sample has nothing to compare with; it mostly measured the
    // cache filling up.
    previous_hit_ratio_ = hit_ratio;
    return;
  }
  const double change = hit_ratio - previous_hit_ratio_;
  const double amount = change >= 0 ? step_ : -step_;
  const double full_step = kStepShare * static_cast<double>(capacity_);
  step_ = std::abs(change) >= kRestartThreshold
              ? (amount >= 0 ? full_step : -full_step)
              : kStepDecay * amount;
  previous_hit_ratio_ = hit_ratio;
  window_target_ += amount;
  SetLimits();
  DemoteProtectedOverflow();
}

}  // namespace mcache
}  // namespace ucache
