// Memoization: wrap a function once; each distinct call is computed once and
// then served, in this process, in the next run, and in sibling processes.
//
//   ucache::Options options;
//   options.dir = "/path/to/store";            // optional; see options.h
//   auto cached = ucache::memoize("simulate/v1", simulate, options);
//   std::vector<double> v = cached(1000, 0.5);  // same signature as simulate
//
// memoize() serves from the backend the options choose (by default the
// memory tier over the file tier, see cache.h); mcache() from memory only;
// fcache() from the file tier only; acache() returns std::shared_future<R>
// and computes misses on a thread of their own.
//
// Names and keys. The name identifies the function and carries its version:
// change the code, change the name ("simulate/v2"), and old results are
// never served again. A call's key is the XXH3-128 hash of the cereal
// binary encoding of its arguments, seeded with a hash of the name and of
// the function's C++ signature (so a changed argument or result type also
// gets a fresh cache). Stored keys read "<name>#<32 hex digits>", which is
// what `ucache ls` shows. Names are 1 to 1024 bytes without control
// characters; they are never used as paths.
//
// Which arguments make the key. By default all of them, and each must be
// serializable by cereal (codec.h). Pass a fourth argument to choose:
//   ucache::Ignore<2, 3>{}   leave out arguments 2 and 3 (from 0): a logger,
//                            a thread pool, a verbosity flag; they need not
//                            be serializable
//   ucache::KeyBy{fn}        the key is cereal's encoding of fn(args...);
//                            fn takes each argument as a const reference
//
// Values. Results go through Codec<R> (codec.h): numeric vectors and arrays
// and strings are stored raw, anything else through cereal. R must be
// copyable and default-constructible. view() reads a raw result without
// copying it.
//
// Single-flight. Threads calling with one missing key wait for a single
// computation and share its result (or its exception). Processes missing
// one key at once compute it once: the first takes the key's lock in the
// store (released by the kernel if it dies) and the others wait for it, then
// read what it stored. A call on the same key from inside the computation
// (recursion) runs the function directly instead of waiting for itself.
//
// Exceptions thrown by the function propagate to every caller waiting on
// that computation and are not cached: the next call computes again.
//
// A Memoized is a cheap handle: copies share one cache, one set of stats
// and one single-flight table. Every method may be called from many threads.

#ifndef UCACHE_MEMOIZE_H_
#define UCACHE_MEMOIZE_H_

#include <xxhash.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>

#include "ucache/cache.h"
#include "ucache/codec.h"
#include "ucache/internal/language_level.h"
#include "ucache/options.h"
#include "ucache/scoped_override.h"

namespace ucache {

struct MemoizeStats {
  uint64_t calls = 0;
  uint64_t hits = 0;  // served by a tier (the three below add up to it)
  uint64_t memory_hits = 0;
  uint64_t file_hits = 0;
  uint64_t fallback_hits = 0;
  uint64_t misses = 0;         // ran the function to fill the cache
  uint64_t waits = 0;          // joined a computation of this process in flight
  uint64_t peer_fills = 0;     // of the hits: found after waiting for another
                               // process that held the key's lock
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

namespace memoize_internal {

// R(Args...) of a function pointer, function, or callable object with one
// non-template operator().
template <class F>
struct Signature : Signature<decltype(&F::operator())> {};
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

// Validates a memoize name; throws std::invalid_argument (a programming
// error, found on the first run).
void CheckName(const std::string& name);
// The seed of a function's key hashes: a hash of its name and signature.
uint64_t KeySeed(const std::string& name, const char* signature);
// Appends "#" and the 32 hex digits of `hash` to `key`.
void AppendKeyHash(XXH128_hash_t hash, std::string* key);

// The state copies of one Memoized (or AsyncMemoized) share.
template <class R, class... Args>
class State : public std::enable_shared_from_this<State<R, Args...>> {
 public:
  using Fn = std::function<R(Args...)>;
  using KeyFn = std::function<void(KeyEncoder&, const std::decay_t<Args>&...)>;

  State(std::string name, Fn fn, KeyFn key_fn, std::shared_ptr<Cache> cache)
      : name_(std::move(name)),
        fn_(std::move(fn)),
        key_fn_(std::move(key_fn)),
        cache_(std::move(cache)),
        seed_(KeySeed(name_, typeid(R(std::decay_t<Args>...)).name())) {}

  const std::string& name() const { return name_; }
  Cache& cache() const { return *cache_; }

  R Call(Param<Args>... args) {
    ++stats_.calls;
    if (cache_->disabled()) {
      ++stats_.bypassed;
      return fn_(std::forward<Param<Args>>(args)...);
    }
    const std::string key = Key(args...);
    if (std::optional<R> v = Lookup(key)) return std::move(*v);
    return Fill(key, [&] { return fn_(std::forward<Param<Args>>(args)...); });
  }

  template <class E>
  ArrayView<E> View(Param<Args>... args) {
    ++stats_.calls;
    std::shared_ptr<const R> value;
    if (cache_->disabled()) {
      ++stats_.bypassed;
      value =
          std::make_shared<const R>(fn_(std::forward<Param<Args>>(args)...));
    } else {
      const std::string key = Key(args...);
      if (std::optional<Cache::Hit> hit = cache_->Get(key)) {
        const uintptr_t at = reinterpret_cast<uintptr_t>(hit->data.data());
        if (hit->data.size() % sizeof(E) == 0 && at % alignof(E) == 0) {
          CountHit(hit->tier);
          return ArrayView<E>(reinterpret_cast<const E*>(hit->data.data()),
                              hit->data.size() / sizeof(E),
                              std::move(hit->keep_alive));
        }
        ++stats_.undecodable;
      }
      value = std::make_shared<const R>(
          Fill(key, [&] { return fn_(std::forward<Param<Args>>(args)...); }));
    }
    return ArrayView<E>(value->data(), value->size(), value);
  }

  std::shared_future<R> CallAsync(Param<Args>... args) {
    ++stats_.calls;
    if (cache_->disabled()) {
      ++stats_.bypassed;
      return Spawn(std::tuple<Stored<Args>...>(args...), std::nullopt);
    }
    std::string key = Key(args...);
    if (std::optional<R> v = Lookup(key)) return Ready(std::move(*v));
    std::shared_ptr<Flight> flight;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto [it, inserted] = flights_.try_emplace(key);
      if (!inserted) {
        flight = it->second;
      } else {
        it->second = std::make_shared<Flight>(std::thread::id());
        return Spawn(std::tuple<Stored<Args>...>(args...),
                     std::make_pair(std::move(key), it->second));
      }
    }
    if (flight->leader.load() == std::this_thread::get_id()) {
      ++stats_.recursions;
      try {
        return Ready(fn_(std::forward<Param<Args>>(args)...));
      } catch (...) {
        std::promise<R> failed;
        failed.set_exception(std::current_exception());
        return failed.get_future().share();
      }
    }
    ++stats_.waits;
    return flight->result;
  }

  MemoizeStats Stats() const {
    MemoizeStats s;
    s.calls = stats_.calls.load();
    s.memory_hits = stats_.memory_hits.load();
    s.file_hits = stats_.file_hits.load();
    s.fallback_hits = stats_.fallback_hits.load();
    s.hits = s.memory_hits + s.file_hits + s.fallback_hits;
    s.misses = stats_.misses.load();
    s.waits = stats_.waits.load();
    s.peer_fills = stats_.peer_fills.load();
    s.recursions = stats_.recursions.load();
    s.exceptions = stats_.exceptions.load();
    s.bypassed = stats_.bypassed.load();
    s.undecodable = stats_.undecodable.load();
    s.compute_seconds = static_cast<double>(stats_.compute_nanos.load()) / 1e9;
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

  struct Counters {
    std::atomic<uint64_t> calls{0}, memory_hits{0}, file_hits{0},
        fallback_hits{0}, misses{0}, waits{0}, peer_fills{0}, recursions{0},
        exceptions{0}, bypassed{0}, undecodable{0}, compute_nanos{0};
  };

  std::string Key(const std::decay_t<Args>&... args) const {
    std::string encoded;
    KeyEncoder encoder(&encoded);
    key_fn_(encoder, args...);
    std::string key;
    key.reserve(name_.size() + 33);
    key = name_;
    AppendKeyHash(XXH3_128bits_withSeed(encoded.data(), encoded.size(), seed_),
                  &key);
    return key;
  }

  void CountHit(Tier tier) {
    switch (tier) {
      case Tier::kMemory:
        ++stats_.memory_hits;
        break;
      case Tier::kFile:
        ++stats_.file_hits;
        break;
      case Tier::kFallback:
        ++stats_.fallback_hits;
        break;
    }
  }

  std::optional<R> Lookup(const std::string& key) {
    std::optional<Cache::Hit> hit = cache_->Get(key);
    if (!hit) return std::nullopt;
    std::optional<R> value(std::in_place);
    if (!Codec<R>::Decode(hit->data, &*value)) {
      ++stats_.undecodable;
      return std::nullopt;
    }
    CountHit(hit->tier);
    return value;
  }

  // A miss: lead the computation of `key`, join the one in flight, or (for
  // recursion) compute without caching.
  template <class Compute>
  R Fill(const std::string& key, Compute&& compute) {
    std::shared_ptr<Flight> flight;
    bool leader = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto [it, inserted] = flights_.try_emplace(key);
      if (inserted) {
        it->second = std::make_shared<Flight>(std::this_thread::get_id());
      }
      leader = inserted;
      flight = it->second;
    }
    if (leader) return Lead(key, *flight, compute);
    if (flight->leader.load() == std::this_thread::get_id()) {
      ++stats_.recursions;
      return compute();
    }
    ++stats_.waits;
    return flight->result.get();
  }

  // Computes (or, after waiting for another process, reads) the value of
  // `key`, publishes it to the flight's followers, and lands the flight.
  template <class Compute>
  R Lead(const std::string& key, Flight& flight, Compute&& compute) {
    try {
      R value = LeadUnguarded(key, compute);
      // Landed before the followers wake, so a call that starts after the
      // result is known never joins this flight: after an exception, it
      // computes again.
      Land(key);
      flight.promise.set_value(value);
      return value;
    } catch (...) {
      ++stats_.exceptions;
      Land(key);
      flight.promise.set_exception(std::current_exception());
      throw;
    }
  }

  template <class Compute>
  R LeadUnguarded(const std::string& key, Compute&& compute) {
    // Another process computing this key holds its lock: wait, then read
    // what it stored. The lock is released after our own Put, for the same
    // reason.
    KeyLock lock = cache_->LockKey(key);
    if (lock.held()) {
      if (std::optional<R> v = Lookup(key)) {
        ++stats_.peer_fills;
        return std::move(*v);
      }
    }
    ++stats_.misses;
    const auto start = std::chrono::steady_clock::now();
    R value = compute();
    stats_.compute_nanos += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now() - start)
            .count());
    std::string bytes;
    Codec<R>::Encode(value, &bytes);
    cache_->Put(key, bytes);
    return value;
  }

  void Land(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    flights_.erase(key);
  }

  static std::shared_future<R> Ready(R value) {
    std::promise<R> p;
    p.set_value(std::move(value));
    return p.get_future().share();
  }

  // Runs the function on a thread of its own with `args`: as the leader of
  // `flight` (key and flight) when given, else uncached. The thread keeps
  // this state alive and carries the caller's ScopedOverride with it.
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
      std::thread([task] { (*task)(); }).detach();
      return result;
    }
    std::shared_future<R> result = flight->second->result;
    std::thread([self, scope, args = std::move(args),
                 flight = std::move(*flight)]() mutable {
      std::optional<ScopedOverride> in_scope;
      if (scope) in_scope.emplace(*scope);
      flight.second->leader.store(std::this_thread::get_id());
      try {
        self->Lead(flight.first, *flight.second,
                   [&] { return std::apply(self->fn_, args); });
      } catch (...) {
        // Delivered through the flight's future.
      }
    }).detach();
    return result;
  }

  // Constant after construction.
  const std::string name_;
  const Fn fn_;
  const KeyFn key_fn_;
  const std::shared_ptr<Cache> cache_;
  const uint64_t seed_;

  Counters stats_;

  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;  // mu_
};

// The key function for a key selection.
template <class... Args>
auto MakeKeyFn(AllArgs) {
  return [](KeyEncoder& encoder, const std::decay_t<Args>&... args) {
    if constexpr (sizeof...(Args) > 0) encoder(args...);
  };
}

template <class... Args, size_t... I>
auto MakeKeyFn(Ignore<I...>) {
  static_assert(((I < sizeof...(Args)) && ...),
                "ucache::Ignore<I...>: no such argument position");
  return [](KeyEncoder& encoder, const std::decay_t<Args>&... args) {
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
  return [fn = std::move(key_by.fn)](KeyEncoder& encoder,
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
    return *state_;
  }

 private:
  std::shared_ptr<StateType> state_;
};

}  // namespace memoize_internal

// A memoized function R(Args...): call it like the original.
template <class Sig>
class Memoized;

template <class R, class... Args>
class Memoized<R(Args...)>
    : public memoize_internal::Handle<memoize_internal::State<R, Args...>> {
 public:
  using State = memoize_internal::State<R, Args...>;

  // An empty handle, to be assigned (e.g. before a recursive function that
  // calls it is built). Calling it throws std::logic_error.
  Memoized() = default;
  explicit Memoized(std::shared_ptr<State> state)
      : memoize_internal::Handle<State>(std::move(state)) {}

  // The function's result for these arguments: from the cache, or computed
  // (and stored) on a miss. Exceptions of the function propagate.
  R operator()(memoize_internal::Param<Args>... args) const {
    return this->Get().Call(
        std::forward<memoize_internal::Param<Args>>(args)...);
  }

  // Like operator(), for a result stored raw (a vector or array of numbers,
  // or a string): a view of its elements, without copying them when the
  // value is in the memory tier or stored uncompressed in the file tier.
  template <class Q = R, class E = typename Codec<Q>::Element>
  ArrayView<E> view(memoize_internal::Param<Args>... args) const {
    return this->Get().template View<E>(
        std::forward<memoize_internal::Param<Args>>(args)...);
  }
};

// A memoized function whose calls return std::shared_future<R> (acache).
template <class Sig>
class AsyncMemoized;

template <class R, class... Args>
class AsyncMemoized<R(Args...)>
    : public memoize_internal::Handle<memoize_internal::State<R, Args...>> {
 public:
  using State = memoize_internal::State<R, Args...>;

  AsyncMemoized() = default;
  explicit AsyncMemoized(std::shared_ptr<State> state)
      : memoize_internal::Handle<State>(std::move(state)) {}

  // A hit returns a ready future. A miss starts the computation on a new
  // thread (or joins the one in flight) and returns its future, which holds
  // the result or the function's exception. Arguments taken by lvalue
  // reference are used by reference: keep them alive until the future is
  // ready.
  std::shared_future<R> operator()(
      memoize_internal::Param<Args>... args) const {
    return this->Get().CallAsync(
        std::forward<memoize_internal::Param<Args>>(args)...);
  }
};

namespace memoize_internal {

// Checks the name first, so that a bad one opens nothing, then builds the
// handle over the cache `open()` returns.
template <template <class> class HandleType, class F, class Open, class KeySpec>
auto Make(std::string name, F fn, Open&& open, KeySpec key) {
  using Sig = typename Signature<std::decay_t<F>>::type;
  using T = Types<Sig>;
  CheckName(name);
  return HandleType<Sig>(std::make_shared<typename T::StateType>(
      std::move(name), std::move(fn), T::KeyFn(std::move(key)), open()));
}

inline Options WithBackend(Options options, Backend backend) {
  options.backend = backend;
  return options;
}

}  // namespace memoize_internal

// `fn` memoized under `name` in the cache `options` describe.
template <class F, class KeySpec = AllArgs>
auto memoize(std::string name, F fn, const Options& options = {},
             KeySpec key = {}) {
  return memoize_internal::Make<Memoized>(
      std::move(name), std::move(fn), [&] { return Cache::Open(options); },
      std::move(key));
}

// `fn` memoized under `name` in a cache shared with other functions.
template <class F, class KeySpec = AllArgs>
auto memoize(std::string name, F fn, std::shared_ptr<Cache> cache,
             KeySpec key = {}) {
  return memoize_internal::Make<Memoized>(
      std::move(name), std::move(fn), [&] { return std::move(cache); },
      std::move(key));
}

// memoize() served by the memory tier alone (options.backend = kMemory).
template <class F, class KeySpec = AllArgs>
auto mcache(std::string name, F fn, const Options& options = {},
            KeySpec key = {}) {
  return memoize(std::move(name), std::move(fn),
                 memoize_internal::WithBackend(options, Backend::kMemory),
                 std::move(key));
}

// memoize() served by the file tier alone (options.backend = kFile).
template <class F, class KeySpec = AllArgs>
auto fcache(std::string name, F fn, const Options& options = {},
            KeySpec key = {}) {
  return memoize(std::move(name), std::move(fn),
                 memoize_internal::WithBackend(options, Backend::kFile),
                 std::move(key));
}

// memoize() whose calls return std::shared_future<R>.
template <class F, class KeySpec = AllArgs>
auto acache(std::string name, F fn, const Options& options = {},
            KeySpec key = {}) {
  return memoize_internal::Make<AsyncMemoized>(
      std::move(name), std::move(fn), [&] { return Cache::Open(options); },
      std::move(key));
}

template <class F, class KeySpec = AllArgs>
auto acache(std::string name, F fn, std::shared_ptr<Cache> cache,
            KeySpec key = {}) {
  return memoize_internal::Make<AsyncMemoized>(
      std::move(name), std::move(fn), [&] { return std::move(cache); },
      std::move(key));
}

}  // namespace ucache

#endif  // UCACHE_MEMOIZE_H_
