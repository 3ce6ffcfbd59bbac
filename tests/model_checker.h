// The judge of the model-based stress test (model_stress_test.cc): a record
// of committed versions that fork()-ed processes share, the write protocol
// that keeps it true, and the rule every read is checked against.
//
// Every key has a version counter. A write of key k takes k's mutex (robust
// and process-shared, so a writer killed holding it does not block the
// others), draws v = ++next_version[k], marks v in flight, performs the put
// (of a self-checking value encoding k and v, stress_util's MakeValue) or
// the erase, and on success records v as committed; an erase, and a Clear of
// every key, is a version too, meaning "absent". A writer that dies leaves
// its in-flight version uncertain: it may or may not have committed.
//
// A read of k snapshots c = committed[k] when it starts. It may return a
// miss (a cache may forget), or a value of version v with
//   c <= v <= next_version[k] at the read's end
// (the committed version, an in-flight one, or one that committed during the
// read). Anything else is a violation, counted by class:
//   corrupt      bytes that do not decode as a value of k;
//   wrong        a version never written for k, or one whose put reported
//                failure (contract 6: a put reports whether it committed);
//   stale        v < c, and c is a put: a value a committed write replaced;
//   resurrected  v < c, and c is an erase or a Clear;
//   changed      the bytes of a held ValueView or Cache::Hit changed.
//
// Thread safety: every method may be called from any thread of any process
// that shares the mapping.

#ifndef UCACHE_TESTS_MODEL_CHECKER_H_
#define UCACHE_TESTS_MODEL_CHECKER_H_

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace ucache {

// Keys the test works on; few, so that processes collide on them.
constexpr int kModelKeys = 48;

// "model/<i>", and a long key now and then so that records span several
// alignment units of key bytes.
std::string ModelKeyName(int i);

// Who performed a read or committed a write.
enum class HandleKind : uint8_t {
  kFile,             // a writable FileCache
  kFileReadOnly,     // a FileCache opened with read_only
  kCacheMemoryFile,  // Cache, backend memory+file
  kCacheFile,        // Cache, backend file
  kFresh,  // the supervisor's fresh handle after a crash, or at the end
};
constexpr int kNumHandleKinds = 5;
std::string_view HandleKindName(HandleKind kind);

// Where a read's value came from: a FileCache read, or Cache::Hit's tier.
enum class Source : uint8_t { kStore, kMemory, kFile, kFallback };
constexpr int kNumSources = 4;

enum class Violation : uint8_t {
  kWrong,
  kStale,
  kResurrected,
  kChanged,
  kCorrupt,
};
constexpr int kNumViolations = 5;
std::string_view ViolationName(Violation v);

// Who committed the version a stale or resurrected read should have seen,
// relative to the reader: tells the bug classes apart in the report (another
// process's write missed, or the reader's own large value or refused file
// write shadowed by an older copy).
enum class Cause : uint8_t {
  kOtherProcess,
  kSameProcess,
  kOwnLarge,
  kOwnRefused
};
constexpr int kNumCauses = 4;

// What a read was, for the report.
struct ReadContext {
  HandleKind handle = HandleKind::kFile;
  Source source = Source::kStore;
  const char* op = "";  // "Get", "GetView", "held view", ...
  int slot = -1;        // worker slot, -1 for the supervisor
  uint64_t cache = 0;   // which Cache object of its process reads, 0: none
  uint64_t spawn = 0;   // which incarnation of the slot
  // Called only for a violation: what the reader knows about its state (its
  // generation, the store's files), to tell the bug classes apart.
  const std::function<std::string()>* explain = nullptr;
};

// What a committed write was, for the report (WriteFlags).
enum WriteFlags : uint32_t {
  kWriteLarge = 1,        // a value above Options::large_value_bytes
  kWriteFileRefused = 2,  // Cache: the file tier did not take it
  // Cache: the file tier could not remove the older value either (the
  // cache says so by shadowing the key); other processes may then read it,
  // as cache.h documents. Counted apart, never a violation.
  kWriteShadowed = 4,
};
// Whether an older version read through `source` after a newer write with
// `flags` is a documented read of another cache (cache.h), counted apart and
// never a violation, when the reader is not the writer's Cache object. A
// write whose older value the file tier kept (kWriteShadowed) leaves that
// value to every other reader. A write the file tier did not take
// (kWriteFileRefused) erased the older value there, or found none: the
// store then holds no older version to read, and only another cache's own
// copy of a value the store never held (its memory or fallback tier) may
// still be served.
inline bool LocalToItsCache(uint32_t flags, Source source) {
  return (flags & kWriteShadowed) != 0 ||
         ((flags & kWriteFileRefused) != 0 &&
          (source == Source::kMemory || source == Source::kFallback));
}

// A read's view of the record, taken before the read (ModelRecord::StartRead).
struct ReadSnapshot {
  int key = 0;
  uint64_t committed = 0;  // packed: version << 1 | absent
};

class ModelRecord {
 public:
  ModelRecord();
  ~ModelRecord();
  ModelRecord(const ModelRecord&) = delete;
  ModelRecord& operator=(const ModelRecord&) = delete;

  // One write of one key, holding its mutex from construction to
  // destruction. Commit or Refuse (or neither, when the writer dies).
  class KeyWrite {
   public:
    KeyWrite(ModelRecord* record, int key);
    ~KeyWrite();
    KeyWrite(const KeyWrite&) = delete;
    KeyWrite& operator=(const KeyWrite&) = delete;
    uint64_t version() const { return version_; }
    // The write took effect: `absent` for an erase.
    // `cache` names the Cache object that wrote (ReadContext::cache).
    void Commit(bool absent, HandleKind by, uint32_t flags, uint64_t cache = 0);
    // A put reported failure: its version must never be read.
    void Refuse();

   private:
    ModelRecord* record_;
    int key_;
    uint64_t version_;
  };

  // A Clear: every key's mutex, in key order, and a version for each.
  class ClearAll {
   public:
    explicit ClearAll(ModelRecord* record);
    ~ClearAll();
    ClearAll(const ClearAll&) = delete;
    ClearAll& operator=(const ClearAll&) = delete;
    void Commit(HandleKind by);

   private:
    ModelRecord* record_;
    uint64_t versions_[kModelKeys];
  };

  ReadSnapshot StartRead(int key) const;
  // Checks a finished read: `value` is nullopt for a miss. Returns the
  // version read (0 for a miss or a violation).
  uint64_t CheckRead(const ReadSnapshot& snap,
                     std::optional<std::string_view> value,
                     const ReadContext& ctx);
  // Checks that held bytes still hash to `hash` (HashBytes when acquired).
  void CheckHeld(int key, uint64_t version, std::string_view data,
                 uint64_t hash, const ReadContext& ctx);

  // Counters the test adds to as it goes.
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> kills{0};         // SIGKILLs sent by the supervisor
  std::atomic<uint64_t> crash_points{0};  // FaultEnv CrashAt/CrashAfter fired
  std::atomic<uint64_t> crashes{0};       // workers dead by a signal not sent
  std::atomic<uint64_t> hung{0};          // workers that did not stop
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> shadowed_reads{0};  // see LocalToItsCache
  std::atomic<uint64_t> refused{0};         // FileCache puts that failed
  std::atomic<uint64_t> errors{0};          // other failed calls
  std::atomic<uint64_t> uncertain{0};       // writes whose writer died
  std::atomic<uint64_t> compactions{0};
  std::atomic<uint64_t> clears{0};
  std::atomic<uint64_t> reopens{0};
  std::atomic<uint64_t> views_held{0};
  std::atomic<uint64_t> recalls{0};  // small values served by Cache::Recall
  std::atomic<uint64_t> damaged{0};  // stores damaged by the supervisor
  std::atomic<uint64_t> verify_unexplained{0};

  uint64_t Count(Violation v) const;
  uint64_t TotalViolations() const;

  // Prints the breakdown by class, reader and cause, the first violations,
  // and the SUMMARY line; `seed` goes into the reproduction hint.
  void Report(uint64_t seed) const;

 private:
  struct Key {
    pthread_mutex_t mu;
    std::atomic<uint64_t> next_version{0};
    std::atomic<uint64_t> inflight{0};
    std::atomic<uint64_t> committed{0};  // version << 1 | absent
    std::atomic<uint64_t> refused{0};    // last version whose put failed
    // Diagnostics of the committed version; not atomic with it.
    std::atomic<pid_t> committed_pid{0};
    std::atomic<uint64_t> committed_cache{0};
    std::atomic<uint32_t> committed_flags{0};
    std::atomic<uint8_t> committed_by{0};
  };

  void Lock(int key);
  void Unlock(int key);
  void Record(Violation v, const ReadContext& ctx, Cause cause,
              const std::string& what);

  Key keys_[kModelKeys];
  std::atomic<uint64_t> counts_[kNumViolations][kNumHandleKinds][kNumSources]
                               [kNumCauses] = {};

  // The first few violations of each kind, described, for the report.
  static constexpr int kKeptLines = 2;
  static constexpr int kLineBytes = 1024;
  char lines_[kNumViolations][kNumHandleKinds][kNumSources][kNumCauses]
             [kKeptLines][kLineBytes] = {};
};

}  // namespace ucache

#endif  // UCACHE_TESTS_MODEL_CHECKER_H_
