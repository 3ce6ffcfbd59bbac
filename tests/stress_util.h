// Helpers shared by the failure-mode tests of the disk tier (multiprocess,
// crash, corruption, full disk): values that check themselves, the test seed,
// and running code in fork()-ed children.
//
// Thread safety: the functions are thread-compatible; Shared<T> is as safe as
// the T it holds.

#ifndef UCACHE_TESTS_STRESS_UTIL_H_
#define UCACHE_TESTS_STRESS_UTIL_H_

#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <optional>
#include <string>
#include <string_view>

#include "ucache/file_cache.h"

namespace ucache {

// ---------------------------------------------------------------------------
// Self-checking values.

// The splitmix64 finalizer: a cheap, well-spread 64-bit mix.
uint64_t Mix(uint64_t x);

// FNV-1a of `s`, then Mix()ed.
uint64_t HashBytes(std::string_view s);

// How a value's payload looks: short raw bytes, text that compresses well, or
// bytes that do not compress.
enum class Shape : uint8_t { kSmall = 0, kCompressible = 1, kRandom = 2 };

// A value that encodes `key`, `version`, `shape` and `len` and is a pure
// function of them: a header (key hash, version, len, shape), `len` payload
// bytes, and a hash of everything before it. CheckValue() recognizes it.
std::string MakeValue(std::string_view key, uint64_t version, Shape shape,
                      uint32_t len);

// The version `value` encodes when it is exactly a value MakeValue() produces
// for `key`; otherwise nullopt, and *why says what is off.
std::optional<uint64_t> CheckValue(std::string_view key, std::string_view value,
                                   std::string* why);

// ---------------------------------------------------------------------------
// Seeds.

// The seed of a randomized test: $UCACHE_TEST_SEED (any base strtoull reads)
// when set, else a random one. Prints "<test_name> seed=N (rerun with
// UCACHE_TEST_SEED=N)". Call it once, before main() (a namespace-scope
// initializer), so that fork()-ed children share the seed with the parent.
uint64_t PickTestSeed(std::string_view test_name);

// ---------------------------------------------------------------------------
// Child processes.

// A T in an anonymous shared mapping, so that fork()-ed children and the
// parent see one object. T must work through such a mapping: plain data and
// lock-free atomics. Aborts if the mapping cannot be made.
template <typename T>
class Shared {
 public:
  Shared() {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) std::abort();
    ptr_ = new (p) T();
  }
  ~Shared() {
    ptr_->~T();
    ::munmap(ptr_, sizeof(T));
  }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;
  T* operator->() { return ptr_; }
  T& operator*() { return *ptr_; }

 private:
  T* ptr_;
};

// Runs `fn` in a fork()-ed child that leaves through _exit(fn()), or
// _exit(97) if fn throws, never returning into the caller (or gtest).
// Buffered output is flushed first so the child does not repeat it. Aborts
// if fork fails.
template <typename F>
pid_t Spawn(F&& fn) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("fork");
    std::abort();
  }
  if (pid == 0) {
    int rc = 97;
    try {
      rc = fn();
    } catch (...) {
      std::fprintf(stderr, "child %d: exception\n", ::getpid());
    }
    std::fflush(stderr);
    ::_exit(rc);
  }
  return pid;
}

// How a child ended, as WaitChild() saw it.
struct ChildExit {
  int status = 0;          // the wait status
  bool waited = false;     // false: waitpid failed, status means nothing
  bool timed_out = false;  // it hung and was SIGKILLed

  // Ended by a signal (a timed-out child counts: SIGKILL).
  bool signaled() const;
  // The signal that ended it, or 0.
  int signal() const;
  // Its exit code, or -1 when it did not exit.
  int code() const;
  // Exited with code 0 in time.
  bool clean() const { return !timed_out && code() == 0; }
  // E.g. "exit code 3", "killed by signal Killed", "hung (killed after
  // timeout)".
  std::string ToString() const;
};

// Waits for child `pid`; after `timeout` calls `before_kill` (when given:
// e.g. to print the hung child's stacks), SIGKILLs it and reports it as
// timed out.
ChildExit WaitChild(pid_t pid, std::chrono::milliseconds timeout,
                    const std::function<void()>& before_kill = {});

// Forks a writer of the store in `dir` that puts `key` = `value` and dies
// (FaultEnv::CrashAfter) once the record is whole in the log, before its
// commit: the record then lies past the committed end, named by no slot.
// `value` must take the path of large records, written with two pwrites
// (head and key, then the value): 256 KiB or more, incompressible, a
// multiple of 16 bytes (no padding write). The child ended as planned when
// the result's code() is FaultEnv::kCrashExitCode.
ChildExit KillWriterBeforeItsCommit(const std::string& dir,
                                    const std::string& key,
                                    const std::string& value,
                                    std::chrono::milliseconds timeout);

// ---------------------------------------------------------------------------
// Sizes and reports.

// The integer in environment variable `name`, or `fallback` when it is unset
// or empty. The failure-mode tests read their sizes this way, so that the
// soak target (//tests:soak_test) runs the same bodies much longer and
// sanitizer builds run them shorter.
int64_t EnvInt(const char* name, int64_t fallback);

// "records=N corrupt=N index=N bad_index=N unreadable=N", for messages.
std::string VerifyString(const VerifyReport& report);

// Prints the line RELIABILITY.md's numbers are read from, one per test run:
//   SUMMARY <test>: <faults> <what>, <wrong> wrong values, <crashes> crashes
// followed by "; <detail>" when `detail` is not empty. `faults` counts what
// the test inflicted (kills, damaged files, full-disk refusals, operations
// raced), `wrong` the values read that no writer wrote for their key, or
// that a committed write had replaced, and `crashes` the processes of the
// engine that died by a signal the test did not send.
void PrintSummary(std::string_view test, uint64_t faults, std::string_view what,
                  uint64_t wrong, uint64_t crashes,
                  std::string_view detail = {});

}  // namespace ucache

#endif  // UCACHE_TESTS_STRESS_UTIL_H_
