// Tests of the memory tier's eviction policies, each driven alone the way a
// shard drives it. LRU, FIFO and LFU are checked step by step against small
// reference models on random operation sequences; W-TinyLFU, which has no
// simple exact model, is checked on the behaviours it exists for (frequency
// admission, scan resistance, the adaptive window) and on its invariants.

#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "src/mcache/entry.h"
#include "src/mcache/fifo_policy.h"
#include "src/mcache/lfu_policy.h"
#include "src/mcache/lru_policy.h"
#include "src/mcache/policy.h"
#include "src/mcache/policy_factory.h"
#include "src/mcache/tinylfu_policy.h"

namespace ucache {
namespace mcache_internal {
namespace {

// A shard in miniature: integer keys, an entry bound, and the policy.
class Harness {
 public:
  Harness(std::unique_ptr<Policy> policy, size_t capacity)
      : policy_(std::move(policy)), capacity_(capacity) {}

  // A use of `key`: a hit if present, else an insert. Returns the keys
  // evicted to make room, in eviction order.
  std::vector<int> Touch(int key) {
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      policy_->RecordAccess(it->second.get());
      return {};
    }
    auto e = std::make_unique<Entry>();
    e->key = std::to_string(key);
    e->hash = XXH3_64bits(e->key.data(), e->key.size());
    policy_->RecordInsert(e.get());
    entries_.emplace(key, std::move(e));
    std::vector<int> evicted;
    while (entries_.size() > capacity_) {
      Entry* victim = policy_->ChooseVictim();
      EXPECT_NE(victim, nullptr);
      if (victim == nullptr) break;
      const int victim_key = std::stoi(std::string(victim->key));
      EXPECT_EQ(entries_.count(victim_key), 1u);
      policy_->RecordRemove(victim);
      entries_.erase(victim_key);
      evicted.push_back(victim_key);
    }
    return evicted;
  }

  // `n` uses of `key` in a row, as a shard hands a run of hits over: an
  // insert if absent (then n - 1 hits), as one RecordAccesses call.
  std::vector<int> TouchRun(int key, uint64_t n) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      std::vector<int> evicted = Touch(key);
      if (n > 1) policy_->RecordAccesses(entries_.at(key).get(), n - 1);
      return evicted;
    }
    policy_->RecordAccesses(it->second.get(), n);
    return {};
  }

  bool Contains(int key) const { return entries_.count(key) != 0; }

  void Erase(int key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    policy_->RecordRemove(it->second.get());
    entries_.erase(it);
  }

  std::set<int> Keys() const {
    std::set<int> keys;
    for (const auto& [k, e] : entries_) keys.insert(k);
    return keys;
  }

  size_t size() const { return entries_.size(); }
  Policy& policy() { return *policy_; }

 private:
  std::unique_ptr<Policy> policy_;
  size_t capacity_;
  std::map<int, std::unique_ptr<Entry>> entries_;
};

// Reference models: the obvious, slow implementations.

class ReferenceLru {
 public:
  explicit ReferenceLru(size_t capacity) : capacity_(capacity) {}
  std::vector<int> Touch(int key) {
    auto it = std::find(order_.begin(), order_.end(), key);
    if (it != order_.end()) {
      order_.erase(it);
      order_.push_back(key);
      return {};
    }
    order_.push_back(key);
    std::vector<int> evicted;
    while (order_.size() > capacity_) {
      evicted.push_back(order_.front());
      order_.pop_front();
    }
    return evicted;
  }
  void Erase(int key) { order_.remove(key); }

 private:
  size_t capacity_;
  std::list<int> order_;  // front = least recently used
};

class ReferenceFifo {
 public:
  explicit ReferenceFifo(size_t capacity) : capacity_(capacity) {}
  std::vector<int> Touch(int key) {
    if (std::find(order_.begin(), order_.end(), key) != order_.end()) return {};
    order_.push_back(key);
    std::vector<int> evicted;
    while (order_.size() > capacity_) {
      evicted.push_back(order_.front());
      order_.pop_front();
    }
    return evicted;
  }
  void Erase(int key) { order_.remove(key); }

 private:
  size_t capacity_;
  std::list<int> order_;  // front = inserted first
};

// LFU with the documented rules: fewest uses, then oldest last use, and the
// entry being inserted is never its own insert's victim.
class ReferenceLfu {
 public:
  explicit ReferenceLfu(size_t capacity) : capacity_(capacity) {}
  std::vector<int> Touch(int key) {
    ++clock_;
    auto it = state_.find(key);
    if (it != state_.end()) {
      ++it->second.uses;
      it->second.last_use = clock_;
      return {};
    }
    state_[key] = {1, clock_};
    std::vector<int> evicted;
    while (state_.size() > capacity_) {
      // The new key is not its own insert's victim.
      auto rank = [&](const auto& kv) {
        return std::tuple(kv.first == key, kv.second.uses, kv.second.last_use);
      };
      auto victim = std::min_element(
          state_.begin(), state_.end(),
          [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
      evicted.push_back(victim->first);
      state_.erase(victim);
    }
    return evicted;
  }
  void Erase(int key) { state_.erase(key); }

 private:
  struct State {
    uint64_t uses;
    uint64_t last_use;
  };
  size_t capacity_;
  uint64_t clock_ = 0;
  std::map<int, State> state_;
};

// Replays a random sequence of uses and erases, skewed so that hits,
// misses and evictions all happen often, through the policy and the model,
// and requires the same evictions at every step.
template <typename Model>
void CheckAgainstModel(std::unique_ptr<Policy> policy, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t capacity = 1 + rng() % 12;
  const int key_space = static_cast<int>(capacity * 3);
  Harness harness(std::move(policy), capacity);
  Model model(capacity);
  for (int step = 0; step < 3000; ++step) {
    // Half the uses go to a small hot set, so that counts differ.
    const int key = rng() % 2 == 0 ? static_cast<int>(rng() % 4)
                                   : static_cast<int>(rng() % key_space);
    if (rng() % 10 == 0) {
      harness.Erase(key);
      model.Erase(key);
      continue;
    }
    ASSERT_EQ(harness.Touch(key), model.Touch(key))
        << "seed " << seed << " step " << step << " key " << key;
    ASSERT_LE(harness.size(), capacity);
  }
}

TEST(LruPolicyTest, MatchesReferenceModel) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    CheckAgainstModel<ReferenceLru>(std::make_unique<LruPolicy>(), seed);
  }
}

TEST(FifoPolicyTest, MatchesReferenceModel) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    CheckAgainstModel<ReferenceFifo>(std::make_unique<FifoPolicy>(), seed);
  }
}

TEST(LfuPolicyTest, MatchesReferenceModel) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    CheckAgainstModel<ReferenceLfu>(std::make_unique<LfuPolicy>(), seed);
  }
}

TEST(LruPolicyTest, EvictsLeastRecentlyUsed) {
  Harness h(std::make_unique<LruPolicy>(), 3);
  h.Touch(1);
  h.Touch(2);
  h.Touch(3);
  h.Touch(1);  // 2 is now the least recent
  EXPECT_EQ(h.Touch(4), std::vector<int>{2});
  EXPECT_EQ(h.Keys(), (std::set<int>{1, 3, 4}));
}

TEST(FifoPolicyTest, HitsDoNotReorder) {
  Harness h(std::make_unique<FifoPolicy>(), 3);
  h.Touch(1);
  h.Touch(2);
  h.Touch(3);
  h.Touch(1);
  EXPECT_EQ(h.Touch(4), std::vector<int>{1});
}

TEST(LfuPolicyTest, EvictsLeastFrequentThenLeastRecent) {
  Harness h(std::make_unique<LfuPolicy>(), 3);
  h.Touch(1);
  h.Touch(1);
  h.Touch(2);
  h.Touch(3);  // 2 and 3 have one use each; 2's is older
  EXPECT_EQ(h.Touch(4), std::vector<int>{2});
  h.Touch(3);  // 3: 2 uses, 4: 1 use
  EXPECT_EQ(h.Touch(5), std::vector<int>{4});
  EXPECT_EQ(h.Keys(), (std::set<int>{1, 3, 5}));
  // 5 (one use) is the next victim, but not of its own insert: room is made.
  h.Touch(1);
  h.Touch(3);
  EXPECT_EQ(h.Touch(6), std::vector<int>{5});
  EXPECT_EQ(h.Touch(7), std::vector<int>{6});
}

TEST(PolicyTest, EmptyPolicyHasNoVictim) {
  for (EvictionPolicy kind :
       {EvictionPolicy::kLru, EvictionPolicy::kLfu, EvictionPolicy::kFifo,
        EvictionPolicy::kTinyLfu}) {
    auto p = NewPolicy(kind, 10);
    EXPECT_EQ(p->ChooseVictim(), nullptr) << p->name();
  }
}

TEST(PolicyTest, NamesAreDistinct) {
  std::set<std::string> names;
  for (EvictionPolicy kind :
       {EvictionPolicy::kLru, EvictionPolicy::kLfu, EvictionPolicy::kFifo,
        EvictionPolicy::kTinyLfu}) {
    names.insert(std::string(NewPolicy(kind, 10)->name()));
  }
  EXPECT_EQ(names, (std::set<std::string>{"lru", "lfu", "fifo", "tinylfu"}));
}

// --- W-TinyLFU ---

std::unique_ptr<TinyLfuPolicy> MakeTinyLfu(size_t capacity,
                                           bool adaptive = true,
                                           double initial_window = 1.0) {
  TinyLfuOptions options;
  options.capacity = capacity;
  options.adaptive = adaptive;
  options.initial_window = initial_window;
  return std::make_unique<TinyLfuPolicy>(options);
}

// Uses drawn from a Zipf-like (log-uniform) law over 1..100,000.
class SkewedKeys {
 public:
  explicit SkewedKeys(uint64_t seed) : rng_(seed) {}
  int operator()() { return static_cast<int>(std::pow(100000.0, u_(rng_))); }

 private:
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> u_{0, 1};
};

// A run of hits handed over at once (RecordAccesses, which W-TinyLFU counts
// in its sketch in one step) must leave the policy exactly as the same hits
// one by one: the same victims, segments, window and shadow hits. Runs of 1
// to 40 over skewed keys at capacities where protected holds nothing (2),
// where the shadows sample every key (300) and one in four (2,000), and
// with no shadows at all.
TEST(TinyLfuPolicyTest, ARunOfHitsAtOnceEqualsTheHitsOneByOne) {
  for (const auto& [capacity, adaptive] : std::vector<std::pair<size_t, bool>>{
           {2, false}, {2, true}, {300, true}, {2000, true}, {2000, false}}) {
    SCOPED_TRACE(testing::Message() << capacity << (adaptive ? "" : " fixed"));
    Harness one_by_one(MakeTinyLfu(capacity, adaptive), capacity);
    Harness at_once(MakeTinyLfu(capacity, adaptive), capacity);
    auto& a = static_cast<TinyLfuPolicy&>(one_by_one.policy());
    auto& b = static_cast<TinyLfuPolicy&>(at_once.policy());
    SkewedKeys keys(capacity);
    std::mt19937_64 rng(5);
    for (int step = 0; step < 30000; ++step) {
      const int key = keys() % 5000;
      const uint64_t n = 1 + rng() % 40;
      std::vector<int> evicted_a;
      for (uint64_t i = 0; i < n; ++i) {
        for (int k : one_by_one.Touch(key)) evicted_a.push_back(k);
      }
      ASSERT_EQ(at_once.TouchRun(key, n), evicted_a) << "step " << step;
      ASSERT_EQ(a.window_size(), b.window_size()) << "step " << step;
      ASSERT_EQ(a.protected_size(), b.protected_size()) << "step " << step;
      ASSERT_EQ(a.window_max(), b.window_max()) << "step " << step;
      ASSERT_EQ(a.shadow_hits(), b.shadow_hits()) << "step " << step;
      const std::string name = std::to_string(key);  // as Harness hashes it
      const uint64_t hash = XXH3_64bits(name.data(), name.size());
      ASSERT_EQ(a.sketch().Estimate(hash), b.sketch().Estimate(hash));
    }
    EXPECT_EQ(one_by_one.Keys(), at_once.Keys());
    EXPECT_EQ(a.sketch().resets(), b.sketch().resets());
    EXPECT_GT(a.sketch().resets(), 0u);  // the runs crossed resets
  }
}

TEST(TinyLfuPolicyTest, SegmentsAlwaysAccountForEveryEntry) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::mt19937_64 rng(seed);
    const size_t capacity = 1 + rng() % 200;
    auto owned = MakeTinyLfu(capacity);
    TinyLfuPolicy* p = owned.get();
    Harness h(std::move(owned), capacity);
    std::uniform_int_distribution<int> key(0, static_cast<int>(capacity * 4));
    for (int step = 0; step < 20000; ++step) {
      const int k = key(rng);
      if (rng() % 20 == 0) {
        h.Erase(k);
      } else {
        h.Touch(k);
      }
      ASSERT_LE(h.size(), capacity);
      ASSERT_EQ(p->window_size() + p->probation_size() + p->protected_size(),
                h.size());
      ASSERT_LE(p->window_max(), std::max<size_t>(1, capacity - 1));
    }
  }
}

TEST(TinyLfuPolicyTest, ProtectedHoldsUpToNinetyFivePercentOfMain) {
  // A one-entry window leaves 99 entries to main, of which floor(0.95 * 99)
  // = 94 may be protected; the rest of main stays in probation.
  auto owned = MakeTinyLfu(100, /*adaptive=*/false, /*initial_window=*/0.01);
  TinyLfuPolicy* p = owned.get();
  Harness h(std::move(owned), 100);
  ASSERT_EQ(p->window_max(), 1u);
  EXPECT_EQ(p->protected_max(), 94u);
  for (int k = 0; k < 100; ++k) h.Touch(k);
  // A use in main promotes to protected; protected's overflow goes back to
  // probation, oldest first.
  for (int k = 0; k < 99; ++k) h.Touch(k);
  EXPECT_EQ(p->window_size(), 1u);
  EXPECT_EQ(p->protected_size(), 94u);
  EXPECT_EQ(p->probation_size(), 5u);
  // The five demoted are the least recently used: keys 0..4, so the next
  // newcomer that wins admission displaces key 0 first, not a protected key.
  for (int i = 0; i < 3; ++i) h.Touch(5000);
  h.Touch(5001);  // pushes 5000 out of the window into the contest
  EXPECT_TRUE(h.Contains(5000));
  EXPECT_FALSE(h.Contains(0));
  for (int k = 5; k < 99; ++k) EXPECT_TRUE(h.Contains(k)) << k;
}

TEST(TinyLfuPolicyTest, FrequentCandidateDisplacesRareVictim) {
  // Fill with keys used once, then use a new key often before inserting it:
  // its sketch count beats main's victim, so it is admitted and stays.
  auto owned = MakeTinyLfu(100, /*adaptive=*/false, /*initial_window=*/0.01);
  Harness h(std::move(owned), 100);
  for (int k = 0; k < 100; ++k) h.Touch(k);
  // Key 1000 is inserted, used (raising its count) and pushed out of the
  // one-entry window by later inserts: it must win admission over the
  // once-used keys, while those later once-used keys lose.
  h.Touch(1000);
  for (int i = 0; i < 5; ++i) h.Touch(1000);
  for (int k = 2000; k < 2050; ++k) h.Touch(k);
  EXPECT_TRUE(h.Contains(1000));
  // Once-used newcomers tie with the once-used victims and lose, except
  // where sketch collisions inflate a newcomer's estimate (the sketch has
  // about one counter per key per row here, so a few do).
  int newcomers = 0;
  for (int k = 2000; k < 2049; ++k) newcomers += h.Contains(k);
  EXPECT_LE(newcomers, 12) << "one-time keys must not displace main";
}

TEST(TinyLfuPolicyTest, HotSetSurvivesScan) {
  // Admission alone, with a frequency-tuned window (where the adaptive
  // window settles on skewed workloads, WindowShrinksOnFrequencyWorkload).
  auto owned = MakeTinyLfu(1000, /*adaptive=*/false, /*initial_window=*/0.01);
  Harness h(std::move(owned), 1000);
  // A hot set of 500 keys used many times...
  for (int round = 0; round < 20; ++round) {
    for (int k = 0; k < 500; ++k) h.Touch(k);
  }
  // ...then a scan of 10,000 keys used once.
  for (int k = 100000; k < 110000; ++k) h.Touch(k);
  int survivors = 0;
  for (int k = 0; k < 500; ++k) survivors += h.Contains(k);
  EXPECT_GE(survivors, 490);

  // LRU, for contrast, keeps none of them.
  Harness lru(std::make_unique<LruPolicy>(), 1000);
  for (int round = 0; round < 20; ++round) {
    for (int k = 0; k < 500; ++k) lru.Touch(k);
  }
  for (int k = 100000; k < 110000; ++k) lru.Touch(k);
  for (int k = 0; k < 500; ++k) EXPECT_FALSE(lru.Contains(k));
}

TEST(TinyLfuPolicyTest, AdaptiveWindowResistsRepeatedScans) {
  // A hot set reused between scans twice the cache's size: an LRU loses the
  // hot set to every scan, so the shadow with the smallest window wins, and
  // the cache itself keeps the hot set through the scans.
  auto owned = MakeTinyLfu(1000);
  TinyLfuPolicy* p = owned.get();
  Harness h(std::move(owned), 1000);
  int fresh = 1'000'000;
  int survivors = 0;
  for (int cycle = 0; cycle < 40; ++cycle) {
    for (int round = 0; round < 5; ++round) {
      for (int k = 0; k < 500; ++k) h.Touch(k);
    }
    for (int i = 0; i < 2000; ++i) h.Touch(fresh++);
    survivors = 0;
    for (int k = 0; k < 500; ++k) survivors += h.Contains(k);
  }
  EXPECT_LT(p->window_max(), 100u);
  EXPECT_GE(survivors, 490);
}

TEST(TinyLfuPolicyTest, WindowGrowsOnRecencyWorkload) {
  // Each key is used a few times in quick succession when new and never
  // again: only recency predicts reuse, so the window should take over.
  const size_t capacity = 1000;
  // Start from a 1% window, as on a workload where frequency paid before.
  auto owned = MakeTinyLfu(capacity, /*adaptive=*/true, 0.01);
  TinyLfuPolicy* p = owned.get();
  Harness h(std::move(owned), capacity);
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> age(1.0 / 300);
  int born = 1;
  for (int step = 0; step < 300'000; ++step) {
    if (rng() % 5 == 0) {
      h.Touch(born++);
    } else {
      const int a = std::min(static_cast<int>(age(rng)), born - 1);
      h.Touch(born - 1 - a);
    }
  }
  EXPECT_GT(p->window_max(), capacity / 2);
}

TEST(TinyLfuPolicyTest, WindowShrinksOnFrequencyWorkload) {
  const size_t capacity = 1000;
  auto owned = MakeTinyLfu(capacity);
  TinyLfuPolicy* p = owned.get();
  Harness h(std::move(owned), capacity);
  EXPECT_EQ(p->window_max(), capacity - 1);  // starts as an LRU
  SkewedKeys skewed(11);
  for (int step = 0; step < 200'000; ++step) h.Touch(skewed());
  EXPECT_LT(p->window_max(), capacity / 10);
}

// The miniature simulation as tinylfu_policy.h describes it, built from
// fixed-window policies with sketches of their own, for a 1,024-entry cache:
// a key is sampled if bits 32-33 of its hash are 0, each of three shadows of
// 256 entries (windows 1%, 20%, 100%) replays every sampled request, and
// every 1,024 sampled requests the window takes the share of the shadow with
// the most hits (the one in force keeps ties), then the hits are halved.
class ReferenceShadows {
 public:
  static constexpr size_t kCapacity = 1024;

  ReferenceShadows() {
    for (double share : kShares) {
      shadows_.push_back(std::make_unique<Shadow>(share));
    }
  }

  // Replays a request of `hash`, if sampled.
  void Request(uint64_t hash) {
    if (((hash >> 32) & 3) != 0) return;
    for (auto& shadow : shadows_) shadow->Request(hash);
    if (++sampled_ < 1024) return;
    sampled_ = 0;
    size_t best = chosen_;
    for (size_t i = 0; i < shadows_.size(); ++i) {
      if (shadows_[i]->hits > shadows_[best]->hits) best = i;
    }
    for (auto& shadow : shadows_) shadow->hits /= 2;
    chosen_ = best;
  }

  size_t window_max() const {
    const double window = kShares[chosen_] * static_cast<double>(kCapacity);
    return std::min(static_cast<size_t>(window), kCapacity - 1);
  }
  std::vector<uint64_t> hits() const {
    std::vector<uint64_t> hits;
    for (const auto& shadow : shadows_) hits.push_back(shadow->hits);
    return hits;
  }

 private:
  static constexpr double kShares[] = {0.01, 0.2, 1.0};

  struct Shadow {
    explicit Shadow(double share)
        : policy(TinyLfuOptions{kCapacity / 4, share, /*adaptive=*/false}) {}

    void Request(uint64_t hash) {
      auto it = entries.find(hash);
      if (it != entries.end()) {
        ++hits;
        policy.RecordAccess(it->second.get());
        return;
      }
      auto e = std::make_unique<Entry>();
      e->hash = hash;
      policy.RecordInsert(e.get());
      entries.emplace(hash, std::move(e));
      while (entries.size() > kCapacity / 4) {
        Entry* victim = policy.ChooseVictim();
        policy.RecordRemove(victim);
        entries.erase(victim->hash);
      }
    }

    TinyLfuPolicy policy;
    std::map<uint64_t, std::unique_ptr<Entry>> entries;
    uint64_t hits = 0;
  };

  std::vector<std::unique_ptr<Shadow>> shadows_;
  uint64_t sampled_ = 0;
  size_t chosen_ = 2;  // the 100% window, which a new cache starts with
};

TEST(TinyLfuPolicyTest, AdaptiveWindowFollowsReferenceSimulation) {
  // Phases that favour frequency and recency in turn, so that the decision
  // moves, with many requests repeating the previous sampled key (some of
  // them right after it, some after unsampled keys): the shadows' shortcut
  // for a repeat must leave their hits, and so the window, as the full
  // replay does.
  const auto hash_of = [](int key) {
    const std::string s = std::to_string(key);
    return XXH3_64bits(s.data(), s.size());
  };
  const auto sampled = [&](int key) { return ((hash_of(key) >> 32) & 3) == 0; };
  auto owned = MakeTinyLfu(ReferenceShadows::kCapacity);
  TinyLfuPolicy* p = owned.get();
  Harness h(std::move(owned), ReferenceShadows::kCapacity);
  ReferenceShadows reference;
  std::mt19937_64 rng(3);
  SkewedKeys skewed(5);
  std::exponential_distribution<double> age(1.0 / 300);
  constexpr int kFirstNew = 1'000'000;  // recency keys are new keys
  int born = kFirstNew;
  int last_sampled = -1;
  int previous = 0;
  int moves = 0;
  size_t window = p->window_max();
  for (int step = 0; step < 240'000; ++step) {
    int key;
    const uint64_t draw = rng() % 8;
    if (draw == 0 && last_sampled >= 0) {
      key = last_sampled;
    } else if (draw <= 2) {
      key = previous;
    } else if ((step / 40'000) % 2 == 0) {
      key = skewed();
    } else if (rng() % 5 == 0) {
      key = born++;
    } else {
      key = std::max(born - 1 - static_cast<int>(age(rng)), kFirstNew);
    }
    h.Touch(key);
    reference.Request(hash_of(key));
    if (sampled(key)) last_sampled = key;
    previous = key;
    ASSERT_EQ(p->shadow_hits(), reference.hits()) << "step " << step;
    ASSERT_EQ(p->window_max(), reference.window_max()) << "step " << step;
    moves += p->window_max() != window;
    window = p->window_max();
  }
  EXPECT_GE(moves, 3) << "the trace must move the window to test it";
}

TEST(TinyLfuPolicyTest, LearnsCapacityWithoutEntryBound) {
  // Capacity 0: the policy learns it from the shard's size at eviction.
  TinyLfuOptions options;
  auto owned = std::make_unique<TinyLfuPolicy>(options);
  TinyLfuPolicy* p = owned.get();
  Harness h(std::move(owned), 5000);
  for (int k = 0; k < 20000; ++k) h.Touch(k);
  EXPECT_EQ(h.size(), 5000u);
  EXPECT_EQ(p->capacity(), 5001u);  // counted with the entry being added
}

}  // namespace
}  // namespace mcache_internal
}  // namespace ucache
