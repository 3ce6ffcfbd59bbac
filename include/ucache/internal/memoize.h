// The machinery behind memoize.h: signatures, the shared state of a
// memoized function (its cache, stats and single-flight table), key
// functions and handle construction. Not part of the API: include
// "ucache/memoize.h", and expect anything here to change.

#ifndef UCACHE_INTERNAL_MEMOIZE_H_
#define UCACHE_INTERNAL_MEMOIZE_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>

#include "ucache/cache.h"
#include "ucache/codec.h"
#include "ucache/internal/language_level.h"
#include "ucache/internal/recent_hits.h"
#include "ucache/internal/thread_counters.h"
#include "ucache/memoize_types.h"
#include "ucache/options.h"
#include "ucache/scoped_override.h"

namespace ucache::memoize_internal {

// R(Args...) of a function pointer, function, or callable object with one
// non-template operator(); no `type` for anything else (a generic lambda, an
// object with overloaded operator()), so that Make can say so in a sentence.
template <class F, class = void>
struct Signature {};
template <class F>
struct Signature<F, std::void_t<decltype(&F::operator())>>
    : Signature<decltype(&F::operator())> {};
template <class R, class... A>
struct Signature<R(A...)> {
  using type = R(A...);
};
template <class R, class... A>
struct Signature<R (*)(A...)> : Signature<R(A...)> {};
template <class R, class... A>
struct Signature<R (*)(A...) noexcept> : Signature<R(A...)> {};
template <class C, class R, class... A>
struct Signature<R (C::*)(A...)> : Signature<R(A...)> {};
template <class C, class R, class... A>
struct Signature<R (C::*)(A...) const> : Signature<R(A...)> {};
template <class C, class R, class... A>
struct Signature<R (C::*)(A...) noexcept> : Signature<R(A...)> {};
template <class C, class R, class... A>
struct Signature<R (C::*)(A...) const noexcept> : Signature<R(A...)> {};

// How a memoized call takes each argument: references as declared (so a
// `ThreadPool&` stays mutable), values by const reference.
template <class A>
using Param = std::conditional_t<std::is_reference_v<A>, A, const A&>;

// How acache keeps an argument until its computation runs: values copied,
// lvalue references as references (the caller keeps the object alive).
template <class A>
using Stored =
    std::conditional_t<std::is_lvalue_reference_v<A>,
                       std::reference_wrapper<std::remove_reference_t<A>>,
                       std::decay_t<A>>;

template <size_t J, size_t... I>
inline constexpr bool kIgnored = ((J == I) || ...);

inline constexpr size_t kMaxNameBytes = 1024;
// "#" and 32 hex digits.
inline constexpr size_t kKeyHashBytes = 33;

// Validates a memoize name (1 to kMaxNameBytes bytes, no control
// characters); throws std::invalid_argument (a programming error, found on
// the first run).
void CheckName(const std::string& name);
// The seed of a function's key hashes: a hash of its name, its signature
// and the layouts of its types (Layout).
uint64_t KeySeed(const std::string& name, const char* signature,
                 const std::string& layout);
// A call's key: the XXH3-128 hash of its arguments' encoding under the
// function's seed.
struct KeyHash {
  uint64_t low = 0;
  uint64_t high = 0;
};
// The XXH3-128 hash of `encoded` (the arguments' encoding) under `seed`.
KeyHash HashKey(std::string_view encoded, uint64_t seed);
// Writes "#" and the 32 hex digits of `hash` to the kKeyHashBytes at `out`.
void WriteKeyHash(KeyHash hash, char* out);

// A call's stored key, "<name>#<32 hex digits>", built on the stack (a
// checked name is at most kMaxNameBytes): a small hit spent a heap
// allocation and its free on a std::string key before.
class CallKey {
 public:
  CallKey(const std::string& name, KeyHash hash)
      : size_(name.size() + kKeyHashBytes) {
    std::memcpy(data_, name.data(), name.size());
    WriteKeyHash(hash, data_ + name.size());
  }
  std::string_view view() const { return {data_, size_}; }

 private:
  char data_[kMaxNameBytes + kKeyHashBytes];
  size_t size_;
};

// True when a call's arguments are all arithmetic, so that their encoding
// is their value bytes (codec_internal::kValueBytes) one after another, of
// a size known at compile time.
template <class... Args>
inline constexpr bool kFixedSizeArgs =
    (std::is_arithmetic_v<std::decay_t<Args>> && ...);
// The Cache that memoize(name, fn, options) uses: one per process for each
// set of options that resolves to the same cache (OptionsShareCache), kept
// while any memoized function or other holder uses it.
std::shared_ptr<Cache> SharedCache(const Options& options);

// How many forks separate this process from the one that first built a
// memoized function (WatchForks): state built under another count was
// inherited from a parent process, whose threads (computations in flight,
// mutexes they held) did not come along.
extern constinit std::atomic<uint64_t> fork_generation;
inline uint64_t ForkGeneration() {
  return fork_generation.load(std::memory_order_relaxed);
}
// Starts counting forks, once per process; before the first state is built.
void WatchForks();

// Starts `body` on a detached thread of its own. Throws std::system_error
// when no thread can start.
void StartThread(std::function<void()> body);
// Replaces how StartThread starts threads (nullptr: std::thread) and
// returns the previous starter; for tests of threads that cannot start.
using ThreadStarter = void (*)(std::function<void()> body);
ThreadStarter SetThreadStarter(ThreadStarter starter);

// The acache threads of one function: counted while they run, so that a
// handle can wait for them.
class Workers : public std::enable_shared_from_this<Workers> {
 public:
  // Runs `body` on a thread of its own; a thread that cannot start
  // returns its error (nullptr when it started). The thread destroys `body`
  // (and what it holds) before it counts itself out.
  std::exception_ptr Start(std::function<void()> body);
  // True when no thread runs, within `timeout`.
  bool Wait(std::chrono::milliseconds timeout);

 private:
  void Finish();

  std::mutex mu_;
  std::condition_variable done_;
  int running_ = 0;  // guarded by mu_
};

// Cache::LockKey(key), registered process-wide by (store, key) and thread
// while held, so that a call on a key its own thread holds through another
// handle (the same name memoized twice, or memoize and acache) is recursion
// and runs the function instead of waiting for itself.
class HeldKeyLock {
 public:
  HeldKeyLock(Cache& cache, std::string_view key);
  ~HeldKeyLock();
  HeldKeyLock(const HeldKeyLock&) = delete;
  HeldKeyLock& operator=(const HeldKeyLock&) = delete;

  bool held() const { return lock_.held(); }
  // True when this thread holds the lock of `key` in `cache`'s store.
  static bool ByThisThread(const Cache& cache, std::string_view key);

 private:
  KeyLock lock_;
  std::string id_;  // (store, key) when registered, else empty
};

// The cereal class version of T (CEREAL_CLASS_VERSION), or 0. Asked of
// cereal's registration function rather than read from its static member,
// which a handle built during static initialization might read before it
// is initialized.
template <class T>
uint32_t CerealVersion() {
  using V = cereal::detail::Version<T>;
  if constexpr (requires { V::registerVersion(); }) {
    return V::registerVersion();
  } else {
    return 0;
  }
}

// The types whose layouts a T's bytes depend on: a container's (or
// optional's) elements, a pair's, tuple's or variant's members.
template <class T>
struct Parts {
  using type = std::tuple<>;
};
template <class T>
requires requires { typename T::value_type; }
struct Parts<T> {
  using type = std::tuple<typename T::value_type>;
};
template <class A, class B>
struct Parts<std::pair<A, B>> {
  using type = std::tuple<A, B>;
};
template <class... T>
struct Parts<std::tuple<T...>> {
  using type = std::tuple<T...>;
};
template <class... T>
struct Parts<std::variant<T...>> {
  using type = std::tuple<T...>;
};

// What identifies the layout of the types T... beyond their names, which a
// changed struct keeps: size, alignment and cereal class version of each,
// then of its Parts, recursively ("8.4.0(4.4.0())" for a pair of ints).
template <class... T>
void AppendLayout(std::string* out);
template <class T>
void AppendOneLayout(std::string* out) {
  using U = std::remove_cv_t<T>;
  out->append(std::to_string(sizeof(U)) + "." + std::to_string(alignof(U)) +
              "." + std::to_string(CerealVersion<U>()) + "(");
  [&]<class... P>(std::tuple<P...>*) {
    AppendLayout<P...>(out);
  }(static_cast<typename Parts<U>::type*>(nullptr));
  out->push_back(')');
}
template <class... T>
void AppendLayout([[maybe_unused]] std::string* out) {
  (AppendOneLayout<T>(out), ...);
}
template <class... T>
std::string Layout() {
  std::string out;
  AppendLayout<T...>(&out);
  return out;
}

// The state copies of one Memoized (or AsyncMemoized) share.
template <class R, class... Args>
class State : public std::enable_shared_from_this<State<R, Args...>> {
 public:
  using Fn = std::function<R(Args...)>;
  using KeyFn = std::function<void(codec_internal::KeyEncoder&,
                                   const std::decay_t<Args>&...)>;

  // `key_is_args`: `key_fn` encodes every argument as it is (AllArgs).
  State(std::string name, Fn fn, KeyFn key_fn, bool key_is_args,
        std::shared_ptr<Cache> cache)
      : name_(std::move(name)),
        fn_(std::move(fn)),
        key_fn_(std::move(key_fn)),
        key_is_args_(key_is_args),
        cache_(std::move(cache)),
        seed_(KeySeed(name_, typeid(R(std::decay_t<Args>...)).name(),
                      Layout<R, std::decay_t<Args>...>())),
        born_((WatchForks(), ForkGeneration())) {}

  // This state, or in a forked child, the child's own: the same function
  // over the child's cache of the same options, with none of the parent's
  // flights (their threads did not come along) and none of its mutexes
  // (another thread may have held one at the fork).
  State& InThisProcess() {
    if (born_ == ForkGeneration()) [[likely]]
      return *this;
    return Reborn();
  }

  const std::string& name() const { return name_; }
  Cache& cache() const { return *cache_; }

  R Call(Param<Args>... args) {
    if (cache_->disabled()) {
      stats_.Add(kCalls);
      stats_.Add(kBypassed);
      return fn_(std::forward<Param<Args>>(args)...);
    }
    const RecentKey recent = RecentKeyOf(args...);
    if (std::optional<R> v = Recalled(recent)) return std::move(*v);
    stats_.Add(kCalls);
    const CallKey key(name_, HashOf(recent, args...));
    if (std::optional<R> v = Lookup(key.view(), recent)) return std::move(*v);
    return Fill(key.view(),
                [&] { return fn_(std::forward<Param<Args>>(args)...); });
  }

  template <class E>
  ArrayView<E> View(Param<Args>... args) {
    stats_.Add(kCalls);
    std::shared_ptr<const R> value;
    if (cache_->disabled()) {
      stats_.Add(kBypassed);
      value =
          std::make_shared<const R>(fn_(std::forward<Param<Args>>(args)...));
    } else {
      const CallKey key(name_, HashArgs(args...));
      if (std::optional<Cache::Hit> hit = cache_->Get(key.view())) {
        const uintptr_t at = reinterpret_cast<uintptr_t>(hit->data.data());
        if (hit->data.size() % sizeof(E) == 0 && at % alignof(E) == 0) {
          CountHit(hit->tier);
          return ArrayView<E>(reinterpret_cast<const E*>(hit->data.data()),
                              hit->data.size() / sizeof(E),
                              std::move(hit->keep_alive));
        }
        stats_.Add(kUndecodable);
      }
      value = std::make_shared<const R>(Fill(
          key.view(), [&] { return fn_(std::forward<Param<Args>>(args)...); }));
    }
    return ArrayView<E>(value->data(), value->size(), value);
  }

  std::shared_future<R> CallAsync(Param<Args>... args) {
    if (cache_->disabled()) {
      stats_.Add(kCalls);
      stats_.Add(kBypassed);
      return Spawn(std::tuple<Stored<Args>...>(args...), std::nullopt);
    }
    const RecentKey recent = RecentKeyOf(args...);
    if (std::optional<R> v = Recalled(recent)) return Ready(std::move(*v));
    stats_.Add(kCalls);
    const CallKey call_key(name_, HashOf(recent, args...));
    if (std::optional<R> v = Lookup(call_key.view(), recent))
      return Ready(std::move(*v));
    if (HeldKeyLock::ByThisThread(*cache_, call_key.view())) {
      return RunHere(std::forward<Param<Args>>(args)...);
    }
    std::string key(call_key.view());
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto [it, inserted] = flights_.try_emplace(key);
      if (inserted) it->second = std::make_shared<Flight>(std::thread::id());
      leader = inserted;
      flight = it->second;
    }
    if (leader) {
      return Spawn(std::tuple<Stored<Args>...>(args...),
                   std::make_pair(std::move(key), std::move(flight)));
    }
    if (flight->leader.load() == std::this_thread::get_id()) {
      return RunHere(std::forward<Param<Args>>(args)...);
    }
    stats_.Add(kWaits);
    return flight->result;
  }

  // Waits until no acache computation of this function runs, or `timeout`
  // passes; true when none runs.
  bool Wait(std::chrono::milliseconds timeout) {
    return workers_->Wait(timeout);
  }

  MemoizeStats Stats() const {
    MemoizeStats s;
    const std::array<uint64_t, counters_internal::kCounters> n = stats_.Sums();
    s.calls = n[kCalls] + n[kRecalled];
    s.memory_hits = n[kMemoryHits] + n[kRecalled];
    s.file_hits = n[kFileHits];
    s.remote_hits = n[kRemoteHits];
    s.fallback_hits = n[kFallbackHits];
    s.hits = s.memory_hits + s.file_hits + s.remote_hits + s.fallback_hits;
    s.misses = n[kMisses];
    s.waits = n[kWaits];
    s.peer_fills = n[kPeerFills];
    s.lease_waits = n[kLeaseWaits];
    s.recursions = n[kRecursions];
    s.exceptions = n[kExceptions];
    s.bypassed = n[kBypassed];
    s.undecodable = n[kUndecodable];
    s.compute_seconds = static_cast<double>(n[kComputeNanos]) / 1e9;
    s.backend = cache_->active_backend();
    s.reason = cache_->active_reason();
    return s;
  }

 private:
  // One computation in flight in this process.
  struct Flight {
    explicit Flight(std::thread::id leader_thread)
        : result(promise.get_future().share()), leader(leader_thread) {}
    std::promise<R> promise;
    std::shared_future<R> result;
    // The thread running the computation (none yet while an acache thread
    // starts): a call for the same key from it is recursion and must not
    // wait for itself.
    std::atomic<std::thread::id> leader;
  };

  // What stats_ counts (MemoizeStats), one ThreadCounters index each.
  enum Counter : size_t {
    kCalls,
    kMemoryHits,
    kFileHits,
    kRemoteHits,
    kFallbackHits,
    kMisses,
    kWaits,
    kPeerFills,
    kLeaseWaits,
    kRecursions,
    kExceptions,
    kBypassed,
    kUndecodable,
    kComputeNanos,
    // A call served from recent_: a call and a memory hit, counted once.
    kRecalled,
    kNumCounters
  };
  static_assert(kNumCounters <= counters_internal::kCounters);

  // cereal's binary encoding of arithmetic arguments (kFixedSizeArgs) into
  // `out`, without an archive or the key function (a small hit spent about
  // a fifth of its time constructing, calling and destroying those); returns
  // its size.
  static size_t EncodeFixed(char* out, const std::decay_t<Args>&... args) {
    size_t at = 0;
    ((codec_internal::AppendValues(&args, 1, out + at),
      at += codec_internal::kValueBytes<std::decay_t<Args>>),
     ...);
    return at;
  }

  KeyHash HashArgs(const std::decay_t<Args>&... args) const {
    if constexpr (kFixedSizeArgs<Args...>) {
      if (key_is_args_) {
        char encoded[(sizeof(std::decay_t<Args>) + ... + 0) + 1];
        const size_t size = EncodeFixed(encoded, args...);
        return HashKey(std::string_view(encoded, size), seed_);
      }
    }
    std::string encoded;
    codec_internal::KeyEncoder encoder(&encoded);
    key_fn_(encoder, args...);
    return HashKey(encoded, seed_);
  }

  void CountHit(Tier tier) {
    switch (tier) {
      case Tier::kMemory:
        stats_.Add(kMemoryHits);
        break;
      case Tier::kFile:
        stats_.Add(kFileHits);
        break;
      case Tier::kRemote:
        stats_.Add(kRemoteHits);
        break;
      case Tier::kFallback:
        stats_.Add(kFallbackHits);
        break;
    }
  }

  // InThisProcess in a forked child.
  State& Reborn() {
    std::lock_guard<std::mutex> lock(reborn_mu_);
    if (reborn_ == nullptr) {
      reborn_ = std::make_shared<State>(name_, fn_, key_fn_, key_is_args_,
                                        SharedCache(cache_->options()));
    }
    return reborn_->InThisProcess();
  }

  // True when a call's recent_ key is its arguments' encoding itself (at
  // most 16 bytes of arithmetic values), so that a call recalled from
  // recent_ hashes nothing; otherwise it is the call's key hash.
  static constexpr bool kSmallArgs =
      kFixedSizeArgs<Args...> &&
      (codec_internal::kValueBytes<std::decay_t<Args>> + ... + 0) <=
          sizeof(RecentKey);

  RecentKey RecentKeyOf(const std::decay_t<Args>&... args) const {
    if constexpr (kSmallArgs) {
      if (key_is_args_) {
        char encoded[sizeof(RecentKey)] = {};
        EncodeFixed(encoded, args...);
        RecentKey key;
        std::memcpy(&key, encoded, sizeof(key));
        return key;
      }
    }
    const KeyHash hash = HashArgs(args...);
    return RecentKey{hash.low, hash.high};
  }

  // The call's key hash, given its recent_ key.
  KeyHash HashOf(RecentKey recent, const std::decay_t<Args>&... args) const {
    if constexpr (kSmallArgs) {
      if (key_is_args_) return HashArgs(args...);
    }
    return KeyHash{recent.low, recent.high};
  }

  // A hit served again from recent_, without asking the cache's tiers.
  std::optional<R> Recalled(RecentKey recent) {
    std::optional<R> value = recent_.Find(
        recent, [this](const Cache::HitStamp& s) { return cache_->Recall(s); });
    if (value) stats_.Add(kRecalled);
    return value;
  }

  // The value of `key` (whose recent_ key is `recent`) from the cache; a
  // small memory hit is remembered in recent_.
  std::optional<R> Lookup(std::string_view key, RecentKey recent) {
    Cache::Scratch scratch;  // a small value's bytes, decoded from here
    Cache::HitStamp stamp;
    std::optional<Cache::Hit> hit =
        cache_->Get(key, &scratch, RecentHits<R>::kEnabled ? &stamp : nullptr);
    if (!hit) return std::nullopt;
    std::optional<R> value(std::in_place);
    if (!Codec<R>::Decode(hit->data, &*value)) {
      stats_.Add(kUndecodable);
      return std::nullopt;
    }
    CountHit(hit->tier);
    recent_.Remember(recent, stamp, *value);
    return value;
  }

  // A miss: lead the computation of `key`, join the one in flight, or (for
  // recursion) compute without caching.
  template <class Compute>
  R Fill(std::string_view key, Compute&& compute) {
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto [it, inserted] = flights_.try_emplace(std::string(key));
      if (inserted) {
        it->second = std::make_shared<Flight>(std::this_thread::get_id());
      }
      leader = inserted;
      flight = it->second;
    }
    if (leader) return Lead(key, flight, /*publish=*/false, compute);
    if (flight->leader.load() == std::this_thread::get_id()) {
      stats_.Add(kRecursions);
      return compute();
    }
    stats_.Add(kWaits);
    return flight->result.get();
  }

  // Computes (or, after waiting for another process, reads) the value of
  // `key`, publishes it to the flight's followers, and lands the flight.
  // `flight` is the leader's own reference; `publish` says the result must
  // reach the flight's future even with no follower holding the flight (an
  // acache caller holds only the future).
  template <class Compute>
  R Lead(std::string_view key, const std::shared_ptr<Flight>& flight,
         bool publish, Compute&& compute) {
    try {
      R value = LeadUnguarded(key, compute);
      if (Inherited()) return value;
      // Landed before the followers wake, so a call that starts after the
      // result is known never joins this flight: after an exception, it
      // computes again.
      Land(key);
      // Followers took their reference under mu_, before Land: a count of
      // one now means nobody waits, and the copy for them (an 8 MB result:
      // a tenth of a miss's time) is skipped.
      if (publish || flight.use_count() > 1) flight->promise.set_value(value);
      return value;
    } catch (...) {
      if (Inherited()) throw;
      stats_.Add(kExceptions);
      Land(key);
      flight->promise.set_exception(std::current_exception());
      throw;
    }
  }

  template <class Compute>
  R LeadUnguarded(std::string_view key, Compute&& compute) {
    // This thread holds the key's lock already, through another handle:
    // recursion, which must not wait for itself.
    if (HeldKeyLock::ByThisThread(*cache_, key)) {
      stats_.Add(kRecursions);
      return compute();
    }
    // Another process computing this key holds its lock: wait, then read
    // what it stored. Within the machine the key lock decides; across
    // machines the remote tier's lease does: wait for its holder's value, or
    // take it. Both are released after our own Put, which they outlive.
    HeldKeyLock lock(*cache_, key);
    RemoteLease lease;
    if (std::optional<Cache::Hit> hit = cache_->GetOrClaim(key, &lease)) {
      R value{};
      if (Codec<R>::Decode(hit->data, &value)) {
        if (hit->tier == Tier::kRemote) stats_.Add(kLeaseWaits);
        stats_.Add(kPeerFills);
        CountHit(hit->tier);
        return value;
      }
      stats_.Add(kUndecodable);
    }
    stats_.Add(kMisses);
    const auto start = std::chrono::steady_clock::now();
    R value = compute();
    // The function forked and this is the child returning: its copy of the
    // cache is the parent's, which other threads may have held mutexes of.
    if (Inherited()) return value;
    stats_.Add(kComputeNanos,
               static_cast<uint64_t>(
                   std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count()));
    if constexpr (Codec<R>::kRaw) {
      // Stored from the value itself: the 8 MB miss's store copied it once
      // more into an encoding first.
      cache_->Put(key, Codec<R>::Bytes(value));
    } else {
      std::string bytes;
      Codec<R>::Encode(value, &bytes);
      cache_->Put(key, bytes);
    }
    return value;
  }

  // True in a forked child (see InThisProcess).
  bool Inherited() const { return born_ != ForkGeneration(); }

  void Land(std::string_view key) {
    std::lock_guard<std::mutex> lock(mu_);
    flights_.erase(std::string(key));
  }

  // Recursion from acache: the function, run in the calling thread.
  std::shared_future<R> RunHere(Param<Args>... args) {
    stats_.Add(kRecursions);
    try {
      return Ready(fn_(std::forward<Param<Args>>(args)...));
    } catch (...) {
      return Failed(std::current_exception());
    }
  }

  static std::shared_future<R> Failed(std::exception_ptr error) {
    std::promise<R> p;
    p.set_exception(std::move(error));
    return p.get_future().share();
  }

  static std::shared_future<R> Ready(R value) {
    std::promise<R> p;
    p.set_value(std::move(value));
    return p.get_future().share();
  }

  // Runs the function on a thread of its own with `args`: as the leader of
  // `flight` (key and flight) when given, else uncached. The thread keeps
  // this state alive and carries the caller's ScopedOverride with it. A
  // thread that cannot start fails the future (and lands the flight, so
  // that the next call tries again).
  std::shared_future<R> Spawn(
      std::tuple<Stored<Args>...> args,
      std::optional<std::pair<std::string, std::shared_ptr<Flight>>> flight) {
    std::shared_ptr<State> self = this->shared_from_this();
    const std::optional<Backend> scope = ScopedOverride::Current();
    if (!flight) {
      auto task = std::make_shared<std::packaged_task<R()>>(
          [self, args = std::move(args)]() mutable {
            return std::apply(self->fn_, args);
          });
      std::shared_future<R> result = task->get_future().share();
      if (std::exception_ptr e = workers_->Start([task] { (*task)(); })) {
        return Failed(e);
      }
      return result;
    }
    std::shared_future<R> result = flight->second->result;
    const std::string key = flight->first;
    std::shared_ptr<Flight> landing = flight->second;
    std::exception_ptr failed = workers_->Start(
        [self, scope, args = std::move(args), flight = std::move(*flight)] {
          std::optional<ScopedOverride> in_scope;
          if (scope) in_scope.emplace(*scope);
          flight.second->leader.store(std::this_thread::get_id());
          try {
            self->Lead(flight.first, flight.second, /*publish=*/true,
                       [&] { return std::apply(self->fn_, args); });
          } catch (...) {
            // Delivered through the flight's future.
          }
        });
    if (failed) {
      Land(key);
      landing->promise.set_exception(failed);
    }
    return result;
  }

  // Constant after construction.
  const std::string name_;
  const Fn fn_;
  const KeyFn key_fn_;
  const bool key_is_args_;
  const std::shared_ptr<Cache> cache_;
  const uint64_t seed_;
  const uint64_t born_;  // the ForkGeneration this state belongs to

  // Added to without atomic read-modify-writes: a hit adds to two, a
  // recalled one to one.
  counters_internal::ThreadCounters stats_;
  // Small results recently served from the memory tier (empty for others).
  RecentHits<R> recent_;
  // Shared with the acache threads, which count themselves out of it after
  // letting go of this state.
  const std::shared_ptr<Workers> workers_ = std::make_shared<Workers>();

  std::mutex reborn_mu_;
  std::shared_ptr<State> reborn_;  // a forked child's own; reborn_mu_

  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;  // mu_
};

// The key function for a key selection.
template <class... Args>
auto MakeKeyFn(AllArgs) {
  return [](codec_internal::KeyEncoder& encoder,
            const std::decay_t<Args>&... args) {
    if constexpr (sizeof...(Args) > 0) encoder(args...);
  };
}

template <class... Args, size_t... I>
auto MakeKeyFn(Ignore<I...>) {
  static_assert(((I < sizeof...(Args)) && ...),
                "ucache::Ignore<I...>: no such argument position");
  return [](codec_internal::KeyEncoder& encoder,
            const std::decay_t<Args>&... args) {
    const auto all = std::forward_as_tuple(args...);
    [&]<size_t... J>(std::index_sequence<J...>) {
      auto one = [&]<size_t K>(std::integral_constant<size_t, K>) {
        if constexpr (!kIgnored<K, I...>) encoder(std::get<K>(all));
      };
      (one(std::integral_constant<size_t, J>{}), ...);
    }
    (std::index_sequence_for<Args...>{});
  };
}

template <class... Args, class F>
auto MakeKeyFn(KeyBy<F> key_by) {
  return [fn = std::move(key_by.fn)](codec_internal::KeyEncoder& encoder,
                                     const std::decay_t<Args>&... args) {
    encoder(fn(args...));
  };
}

template <class Sig>
struct Types;
template <class R, class... Args>
struct Types<R(Args...)> {
  static_assert(!std::is_void_v<R>, "a memoized function must return a value");
  using StateType = State<R, Args...>;
  template <class KeySpec>
  static typename StateType::KeyFn KeyFn(KeySpec spec) {
    return MakeKeyFn<Args...>(std::move(spec));
  }
};

// What Memoized and AsyncMemoized share: the state handle and the
// accessors.
template <class StateType>
class Handle {
 public:
  MemoizeStats stats() const { return Get().Stats(); }
  const std::string& name() const { return Get().name(); }
  Cache& cache() const { return Get().cache(); }
  Backend active_backend() const { return Get().cache().active_backend(); }

 protected:
  Handle() = default;
  explicit Handle(std::shared_ptr<StateType> state)
      : state_(std::move(state)) {}
  StateType& Get() const {
    if (state_ == nullptr)
      throw std::logic_error("empty ucache memoized handle");
    return state_->InThisProcess();
  }

 private:
  std::shared_ptr<StateType> state_;
};

// How long the destruction of a function's last handle waits for its acache
// threads (memoize.h).
inline constexpr std::chrono::seconds kWaitOnLastHandle{10};

// Checks the name first, so that a bad one opens nothing, then builds the
// handle over the cache `open()` returns.
template <template <class> class HandleType, class F, class Open, class KeySpec>
auto Make(std::string name, F fn, Open&& open, KeySpec key) {
  constexpr bool kDeducible = requires {
    typename Signature<std::decay_t<F>>::type;
  };
  static_assert(kDeducible,
                "ucache::memoize cannot tell this function's signature: pass "
                "a function pointer, a lambda with explicit parameter types, "
                "or an object with one non-template operator(). Wrap a "
                "generic lambda or an overload set in a lambda that names the "
                "types, e.g. [](int n, double d) { return simulate(n, d); }");
  if constexpr (kDeducible) {
    using Sig = typename Signature<std::decay_t<F>>::type;
    using T = Types<Sig>;
    using StateType = typename T::StateType;
    CheckName(name);
    auto state = std::make_shared<StateType>(
        std::move(name), std::move(fn), T::KeyFn(std::move(key)),
        std::is_same_v<KeySpec, AllArgs>, open());
    // The handles' last copy waits (a while) for the function's acache
    // threads, so that a handle destroyed at exit does not leave one running
    // while the process tears down what it uses. The threads' own shares
    // keep the state alive past that.
    StateType* raw = state.get();
    return HandleType<Sig>(std::shared_ptr<StateType>(
        raw, [state = std::move(state)](StateType* s) mutable {
          s->Wait(kWaitOnLastHandle);
          state.reset();
        }));
  }
}

inline Options WithBackend(Options options, Backend backend) {
  options.backend = backend;
  return options;
}

}  // namespace ucache::memoize_internal

#endif  // UCACHE_INTERNAL_MEMOIZE_H_
