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
// binary encoding of its arguments, seeded with a hash of the name, of the
// function's C++ signature and of its types' layouts, so that a changed
// argument or result type gets a fresh cache. A type's layout is its
// sizeof, alignof and cereal class version (CEREAL_CLASS_VERSION), and those
// of its parts: a container's (or optional's) element type, a pair's, tuple's
// or variant's members, recursively. Detected: a type renamed or retyped in
// the signature, a struct that changes size or alignment (two int32_t become
// one int64_t), a bumped class version, a vector's element type. Not
// detected: a struct whose members change without changing its size and
// alignment (an int32_t becomes a float, two fields swap), a changed
// serialize() function, a change inside a member struct or behind a pointer
// that leaves the outer layout alone. For those, change the name or bump
// CEREAL_CLASS_VERSION. Stored keys read "<name>#<32 hex digits>", which is
// what `ucache ls` shows. Names are 1 to 1024 bytes without control
// characters; they are never used as paths.
//
// What a key normalises. Two calls share a key when their arguments encode
// to the same bytes, which is cereal's encoding with two exceptions, each a
// case where one value had many encodings: a long double is its value bytes
// only (x86: 10 of 16, the rest being padding of whatever the storage held),
// alone or in a container; and an unordered_map, unordered_set, or their
// multi forms, is its elements' encodings sorted, so that equal containers
// in different insertion orders or bucket counts give one key. Nothing else
// is: values that compare equal but encode differently give different keys
// (0.0 and -0.0, NaNs of different bits, an unordered container's elements
// that only its custom equality calls equal, two shared_ptrs to equal
// objects against one shared twice), a type's own save() is written as it
// writes it, and equal values of different argument types (float and double,
// std::map and unordered_map) are different signatures. Keys of long double
// or unordered arguments stored before this rule miss once.
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
// copying it. A small result (trivially copyable, at most 16 bytes: a
// double, an int) that the memory tier served is also kept in a table of
// 128 slots beside the function, and served from there while nothing that
// could have replaced it has happened (Cache::Recall: no Put or Erase
// through its cache, the store's count unchanged): such a hit takes no lock
// and builds no key string. In a busy store, whose count moves often, calls
// go back to the tiers, which serve them as before.
//
// Single-flight. Threads calling with one missing key wait for a single
// computation and share its result (or its exception). Processes missing
// one key at once compute it once: the first takes the key's lock in the
// store (released by the kernel if it dies) and the others wait for it, then
// read what it stored. A call on the same key from inside the computation
// (recursion) runs the function directly instead of waiting for itself,
// and is not cached; that holds through any handle of the process on the
// same store (the name memoized twice, memoize and acache), since the store
// lock a thread holds is known process-wide. Each level of a recursion over
// distinct keys holds one descriptor (its key's lock) until it returns, and
// about 800 bytes of stack beyond the function's own: fib(n) holds n. Levels
// past the process's descriptor limit (RLIMIT_NOFILE) run without their
// key's lock: they are computed and stored as any others, but another
// process missing the same key at that moment computes it too.
//
// Fork. A child forked while memoized functions are in use gets, on its
// first call through each inherited handle, a state of its own: the same
// function over the child's cache of the same options, with none of the
// parent's computations in flight (their threads are not in the child) and
// none of its mutexes. A computation the parent runs is, to the child, one
// in another process: it waits for the key's store lock, then reads the
// parent's result. The child does not hold the parent's key locks: they die
// with the parent. A function that forks inside its computation returns its
// result in the child uncached.
//
// Exceptions thrown by the function propagate to every caller waiting on
// that computation and are not cached: the next call computes again.
//
// One cache per store. Every memoize(name, fn, options) in a process whose
// options resolve to the same cache (the same store and tiers, the same
// settings, after the environment variables; a log sink only when it is the
// same plain function) shares one Cache: one memory budget, one set of file
// handles, one warning when a tier cannot open. It lives while any of its
// memoized functions does. To share a cache across different options, or to
// keep one to yourself, pass your own: memoize(name, fn, Cache::Open(...)).
//
// Errors. memoize(), mcache(), fcache() and acache() throw
// std::invalid_argument for a bad name (empty, longer than 1024 bytes, or
// holding a control character): a programming error, found on the first
// run. Nothing else they do throws; a cache that cannot open falls back (see
// cache.h). What a function can be: a function pointer, a lambda with
// explicit parameter types, or an object with one non-template operator();
// a generic lambda stops the build with a static_assert saying so, and an
// overloaded function name must be cast to one overload (or wrapped in a
// lambda) first, since C++ cannot deduce which one is meant.
//
// acache and exit. A computation acache started runs on a thread that
// shares the function's state, so it never touches freed state of the
// handle's; but a process that exits while one runs tears down what the
// function itself may use. AsyncMemoized::Wait waits for them, and the
// destruction of a function's last handle (a global one included, at exit)
// waits up to 10 s; one still running then is abandoned and dies with the
// process. A thread that cannot start fails its future with
// std::system_error, and the next call of the key tries again.
//
// A Memoized is a cheap handle: copies share one cache, one set of stats
// and one single-flight table. Every method may be called from many threads.

#ifndef UCACHE_MEMOIZE_H_
#define UCACHE_MEMOIZE_H_

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <utility>

#include "ucache/cache.h"
#include "ucache/internal/language_level.h"
#include "ucache/internal/memoize.h"
#include "ucache/memoize_types.h"
#include "ucache/options.h"

namespace ucache {

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

  // Waits until no computation this function started runs, at most
  // `timeout`; true when none runs. Call it before the process exits (or
  // before what the function uses is destroyed) to let work in flight
  // finish. Destroying the last copy of a handle waits up to 10 s this way.
  bool Wait(std::chrono::milliseconds timeout) const {
    return this->Get().Wait(timeout);
  }
};

// `fn` memoized under `name` in the cache `options` describe.
template <class F, class KeySpec = AllArgs>
auto memoize(std::string name, F fn, const Options& options = {},
             KeySpec key = {}) {
  return memoize_internal::Make<Memoized>(
      std::move(name), std::move(fn),
      [&] { return memoize_internal::SharedCache(options); }, std::move(key));
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
      std::move(name), std::move(fn),
      [&] { return memoize_internal::SharedCache(options); }, std::move(key));
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
