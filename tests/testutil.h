// Test helpers shared by ucache's tests and benchmarks: status assertions, a
// recorder of log lines, a self-removing temporary directory, whole-file and
// directory helpers, and FaultEnv, an Env that injects the failures real
// disks and processes produce (full disk, failing calls, a crash between two
// calls, clock jumps) without root or a broken disk.
//
// Thread safety: FaultEnv may be shared by many threads, like any Env; its
// knobs may be turned while other threads use it. TempDir is not shared.

#ifndef UCACHE_TESTS_TESTUTIL_H_
#define UCACHE_TESTS_TESTUTIL_H_

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "ucache/env.h"
#include "ucache/file_cache.h"
#include "ucache/log.h"
#include "ucache/status.h"

// Assert or expect that a ucache::Status, or a ucache::Result<T>, is OK. The
// failure message shows the expression and the status's ToString(). The
// expression is evaluated once.
#define ASSERT_OK(expr) \
  ASSERT_PRED_FORMAT1(::ucache::testutil_internal::IsOkFormat, expr)
#define EXPECT_OK(expr) \
  EXPECT_PRED_FORMAT1(::ucache::testutil_internal::IsOkFormat, expr)

namespace ucache {

namespace testutil_internal {

inline const Status& StatusOf(const Status& s) { return s; }
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

template <typename T>
::testing::AssertionResult IsOkFormat(const char* expr, const T& value) {
  const Status& s = StatusOf(value);
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << expr << " is not OK: " << s.ToString();
}

}  // namespace testutil_internal

// Records what a cache logs through Sink(), in order, from any thread.
class LogRecorder {
 public:
  LogSink Sink();
  // Every line so far: "W " (a warning) or "I " before its message.
  std::vector<std::string> Lines() const;
  std::vector<std::string> warnings() const;
  std::vector<std::string> infos() const;

 private:
  std::vector<std::string> Of(LogLevel level) const;

  mutable std::mutex mu_;
  std::vector<std::pair<LogLevel, std::string>> lines_;  // guarded by mu_
};

// A fresh directory (mode 0700) under $TEST_TMPDIR, or /tmp outside Bazel,
// removed with everything in it when the TempDir is destroyed, even entries
// a test made unreadable. Aborts the process if it cannot be created, since
// no test could go on without it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name. Creates nothing.
  std::string Sub(std::string_view name) const;

 private:
  std::string path_;
};

// The names in directory `dir` except "." and "..", sorted; empty when it
// cannot be read.
std::vector<std::string> ListDirNames(const std::string& dir);

// The whole content of the file at `path`; empty when it cannot be read.
std::string ReadWholeFile(const std::string& path);

// How long `fn` took, in wall-clock milliseconds (for generous bounds on a
// failure path, never for speed).
int64_t MillisOf(const std::function<void()>& fn);

// Creates or truncates `path`, writes `data` and sets its permission bits to
// `mode`. False when not all of `data` was written.
bool WriteWholeFile(const std::string& path, std::string_view data,
                    mode_t mode);

// Removes `path` and everything below it, without following symlinks and
// even where a test took permissions away. Missing paths are fine.
void RemoveTree(const std::string& path);

// Replaces directory `to` (made with mode 0700) with a copy of the regular
// files directly in `from`, permission bits kept. Aborts when a file cannot
// be copied, since a test could not tell a bad copy from a bug.
void CopyDirFlat(const std::string& from, const std::string& to);

// FileCache::Open(dir, options), failing the test (and returning null) when
// it fails.
std::unique_ptr<FileCache> OpenStore(const std::string& dir,
                                     const FileCacheOptions& options = {});

// The value of `key` in `cache`, or "<miss>"; any error but NotFound fails
// the test.
std::string GetOrMiss(FileCache& cache, std::string_view key);

// Flips one bit of the prelude of the store's index in `dir`, so that its
// checksum fails and the next writable open recovers from the log.
void DamageIndexPrelude(const std::string& dir);

// A real tmpfs of `size` (mount's syntax, e.g. "1m") mounted on the new
// directory `path` (mode 0700) while the object lives, unmounted (lazily
// when busy) when it goes: a full disk that fills up for real. mounted() is
// false, and why() says why, when the process is not root or the mount
// fails; tests then skip with that reason.
class ScopedTmpfs {
 public:
  ScopedTmpfs(const std::string& path, const std::string& size);
  ~ScopedTmpfs();
  ScopedTmpfs(const ScopedTmpfs&) = delete;
  ScopedTmpfs& operator=(const ScopedTmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string why_;
};

// Sets environment variable `name` to `value` (unsets it for null) and
// restores the previous state when destroyed. Not thread-safe: use it where
// no other thread reads the environment.
class ScopedEnvVar {
 public:
  ScopedEnvVar(const char* name, const char* value);
  ~ScopedEnvVar();
  ScopedEnvVar(const ScopedEnvVar&) = delete;
  ScopedEnvVar& operator=(const ScopedEnvVar&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// An Env that forwards every call to another Env (EnvWrapper's target()),
// after consulting its knobs in this order: the call is counted, a planned
// crash fires, a planned failure is returned, the space budget is charged. A
// call stopped by a knob never reaches the wrapped Env.
class FaultEnv : public EnvWrapper {
 public:
  // One per Env method.
  enum class Op {
    kOpen,
    kClose,
    kWrite,
    kRead,
    kAllocate,
    kSync,
    kStat,
    kStatPath,
    kMap,
    kUnmap,
    kLock,
    kUnlock,
    kCreateDir,
    kListDir,
    kRename,
    kRemove,
    kSyncDir,
    kNextData,
    kNowMillis,
    kCurrentUser,
  };
  static constexpr int kNumOps = static_cast<int>(Op::kCurrentUser) + 1;
  // The exit status of a process stopped by CrashAt.
  static constexpr int kCrashExitCode = 86;

  explicit FaultEnv(std::shared_ptr<Env> base = NewPosixEnv());

  // Disk-space budget: from now on, Write and Allocate together may consume
  // `bytes_remaining` bytes (every byte a Write passes counts, overwrites
  // included; an Allocate counts only the bytes past the end of the file,
  // since FaultEnv takes files to have no holes and allocating allocated
  // blocks needs no space). A Write that does not fit lands the prefix that
  // fits, as a short write on a full disk would, then returns
  // Status::NoSpace; an Allocate that does not fit reserves nothing and
  // returns Status::NoSpace.
  void SetSpaceLimit(uint64_t bytes_remaining);
  void ClearSpaceLimit();
  // The budget left, or nullopt when there is no limit.
  std::optional<uint64_t> SpaceRemaining() const;

  // The next `count` calls of `op` return `s` without being performed. An OK
  // `s` cancels a pending failure. Unmap, NowMillis and CurrentUser cannot
  // fail, so a failure planned for them is never consumed.
  void FailNext(Op op, Status s, int count = 1);
  // Cancels every planned failure and crash.
  void ClearFaults();

  // Fake wall clock. Once set, NowMillis returns the fake value, which moves
  // only through these calls. AdvanceMillis on an unset clock starts it from
  // the wrapped Env's time. ClearNowMillis returns to the real clock.
  void SetNowMillis(int64_t millis);
  void AdvanceMillis(int64_t delta);
  void ClearNowMillis();

  // The `nth` call of `op` from now (1 = the very next) calls
  // _exit(kCrashExitCode) before doing anything, as kill -9 would at that
  // instant. Only for forked children: it ends the whole process.
  void CrashAt(Op op, int nth);
  // The same, but after the call has been performed (and whatever it
  // returned): kill -9 on return from, say, rename().
  void CrashAfter(Op op, int nth);

  // How many times each op has been called, failed calls included.
  int64_t Calls(Op op) const;
  void ResetCalls();

  // Calls `fn` at each Sync and SyncDir, before FaultEnv counts it, crashes
  // or fails it, with what it syncs: the file's name (the last component of
  // the descriptor's path), or the directory's path and a trailing '/'.
  // Null stops the calls. `fn` runs without FaultEnv's lock held and may
  // inspect the store.
  void OnSync(std::function<void(const std::string& synced)> fn);

  Result<int> Open(const std::string& path, OpenMode mode) override;
  Status Close(int fd) override;
  Status Write(int fd, const void* data, size_t n, uint64_t offset) override;
  Status Read(int fd, void* data, size_t n, uint64_t offset) override;
  Status Allocate(int fd, uint64_t offset, uint64_t len) override;
  Status Sync(int fd) override;
  Result<uint64_t> NextData(int fd, uint64_t offset) override;
  Result<FileInfo> Stat(int fd) override;
  Result<FileInfo> StatPath(const std::string& path) override;
  Result<void*> Map(int fd, uint64_t len, bool writable) override;
  void Unmap(void* addr, uint64_t len) override;
  Status Lock(int fd, LockMode mode) override;
  Status Unlock(int fd) override;
  Status LockByte(int fd, uint64_t offset, LockMode mode) override;
  Status UnlockByte(int fd, uint64_t offset) override;
  Status CreateDir(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  int64_t NowMillis() override;
  uint32_t CurrentUser() override;

 private:
  struct PlannedFailure {
    Status status;
    int remaining = 0;
  };

  // Counts the call and crashes if this is the planned one. Requires mu_.
  void CountLocked(Op op);
  // CountLocked, then returns the planned failure if one is due (OK
  // otherwise).
  Status Enter(Op op);
  // Crashes if a CrashAfter of this call is due; else passes `result` on.
  void CountAfter(Op op);
  template <typename T>
  T Leave(Op op, T result) {
    CountAfter(op);
    return result;
  }
  // Calls on_sync_, if any, with what `synced` names.
  void NoteSync(const std::function<std::string()>& synced);
  // How many of `n` bytes the space budget lets through; the rest is lost.
  uint64_t ChargeSpace(uint64_t n);

  mutable std::mutex mu_;
  // Guarded by mu_.
  std::array<int64_t, kNumOps> calls_{};
  std::array<PlannedFailure, kNumOps> failures_;
  std::array<int, kNumOps> crash_countdown_{};  // 0 = no crash planned
  std::array<int, kNumOps> crash_after_countdown_{};
  std::optional<uint64_t> space_remaining_;
  std::optional<int64_t> now_millis_;
  std::function<void(const std::string&)> on_sync_;
};

// The name of an op, e.g. "Write", for messages.
std::string_view OpName(FaultEnv::Op op);

// `n` bytes drawn from `rng`, for values and payloads in tests.
std::string RandomBytes(std::mt19937_64& rng, size_t n);

}  // namespace ucache

#endif  // UCACHE_TESTS_TESTUTIL_H_
