// The model-based stress test: the judge of contracts 1 to 6 of DESIGN.md.
//
// Worker processes (fork) of several threads run random Put, Get, GetView,
// Erase, Clear, Compact, Sync and reopen (writable and read-only handles)
// through FileCache and through Cache (backends memory+file and file) on one
// store, and check every read against a shared record of committed versions
// (model_checker.h has the rule). Meanwhile a supervisor (the test process)
//  * SIGKILLs a random worker every few tens of milliseconds, often one that
//    is inside Compact or Clear, and respawns it with a new plan;
//  * plans deterministic crashes: workers whose FaultEnv _exit()s at, or on
//    return from, the nth call of Rename, Remove, Write, Allocate, SyncDir,
//    Sync, Open or Map (after rename() is a publisher killed before it marks
//    the old index superseded);
//  * gives some workers a full disk (FaultEnv::SetSpaceLimit, turned on and
//    off as they run) and some Cache workers a max_bytes their large values
//    do not fit, so that file-tier writes are refused;
//  * now and then damages the store as a bit flip would: one record's header
//    or, every other time, the lock file's committed log end, set back to
//    an earlier record as a power loss that kept the log would leave it,
//    and then the index's prelude, so that the next open recovers;
//  * after every worker death, opens the store fresh and checks every key;
//    at the end, with the workers stopped, checks every key through a
//    writable and a read-only handle and requires Verify() to be clean (or
//    its findings to be no more than the damage done).
// Held views and Cache hits are re-hashed while they are held: committed
// bytes never change.
//
// Sizes come from the environment (EnvInt), so that the soak runs it long
// and sanitizer builds short: UCACHE_MODEL_SECONDS (20), _PROCESSES (4),
// _THREADS (2), _KILL_MS (the longest pause between two kills, 120),
// _DAMAGE_MS (between two damages, 600; 0 = none), and UCACHE_MODEL_ROLES,
// the roles of the worker slots in turn (default
// "compactor,mixed,cache,cachefile"). The seed is UCACHE_TEST_SEED; it
// decides every plan and every operation, though not the timing.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gtest/gtest.h"
#include "tests/model_checker.h"
#include "tests/stress_util.h"
#include "tests/testutil.h"
#include "ucache/ucache.h"

namespace ucache {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// Chosen (and printed) once, before main(), so that fork()-ed children
// share it with the parent.
const uint64_t kSeed = PickTestSeed("model_stress_test");

constexpr int kMaxSlots = 16;
constexpr size_t kLargeValueBytes = size_t{1} << 20;  // Options' default
// A worker still running this long after it was told to stop is hung.
constexpr milliseconds kStopTimeout(30000);

// A supervisor step that takes this long is a hang: the watchdog prints
// every process's stacks and aborts the test, so that a stall shows its
// cause rather than running into Bazel's timeout.
constexpr std::chrono::seconds kStallTimeout(120);

int64_t SteadyMs() {
  return std::chrono::duration_cast<milliseconds>(
             steady_clock::now().time_since_epoch())
      .count();
}

// What a worker slot does.
enum class Role { kCompactor, kMixed, kCache, kCacheFile };

std::vector<Role> RolesFromEnv() {
  const char* env = std::getenv("UCACHE_MODEL_ROLES");
  const std::string spec =
      env != nullptr && *env != '\0' ? env : "compactor,mixed,cache,cachefile";
  std::vector<Role> roles;
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t end = std::min(spec.find(',', start), spec.size());
    const std::string name = spec.substr(start, end - start);
    if (name == "compactor") roles.push_back(Role::kCompactor);
    if (name == "mixed") roles.push_back(Role::kMixed);
    if (name == "cache") roles.push_back(Role::kCache);
    if (name == "cachefile") roles.push_back(Role::kCacheFile);
    start = end + 1;
  }
  if (roles.empty()) roles.push_back(Role::kMixed);
  return roles;
}

// What the supervisor shares with the workers besides the record.
struct Control {
  std::atomic<int> stop{0};
  // The supervisor's last sign of progress (steady ms), for the watchdog,
  // which watches until `checked`.
  std::atomic<int64_t> heartbeat_ms{0};
  std::atomic<int> checked{0};
  // Workers inside an explicit Compact or Clear, per slot: the supervisor
  // likes to kill those.
  std::atomic<int> publishing[kMaxSlots] = {};
};

// A crash planned at the nth call of one Env operation.
struct CrashPlan {
  FaultEnv::Op op = FaultEnv::Op::kRename;
  int nth = 1;
  bool after = false;  // CrashAfter: on return from the call
  bool sync = false;   // the op happens only with sync_writes
};

std::string CrashPlanName(const CrashPlan& c) {
  return std::string(c.after ? "after " : "at ") + std::string(OpName(c.op)) +
         " #" + std::to_string(c.nth);
}

// The crash points the issue lists, and a few more. Rename-after is the
// publisher killed between rename and mark, so it comes twice.
CrashPlan PickCrash(std::mt19937_64& rng) {
  using Op = FaultEnv::Op;
  struct Choice {
    Op op;
    bool after;
    int max_nth;
    bool sync;
  };
  static constexpr Choice kChoices[] = {
      {Op::kRename, true, 3, false},    {Op::kRename, true, 3, false},
      {Op::kRename, false, 3, false},   {Op::kRemove, false, 4, false},
      {Op::kRemove, true, 4, false},    {Op::kWrite, false, 40, false},
      {Op::kAllocate, false, 4, false}, {Op::kSyncDir, false, 2, true},
      {Op::kSyncDir, true, 2, true},    {Op::kSync, true, 3, true},
      {Op::kOpen, false, 12, false},    {Op::kMap, false, 8, false},
  };
  const Choice& c = kChoices[rng() % std::size(kChoices)];
  return CrashPlan{c.op, 1 + static_cast<int>(rng() % c.max_nth), c.after,
                   c.sync};
}

// One incarnation of a worker slot.
struct WorkerPlan {
  int slot = 0;
  uint64_t spawn = 0;
  uint64_t seed = 0;
  Role role = Role::kMixed;
  int threads = 2;
  std::optional<CrashPlan> crash;
  std::optional<uint64_t> space_limit;  // a full disk, toggled as it runs
  uint64_t max_bytes = 0;               // Cache roles: refuses large values
};

WorkerPlan PlanFor(int slot, uint64_t spawn, Role role, int threads,
                   std::mt19937_64& rng) {
  WorkerPlan p;
  p.slot = slot;
  p.spawn = spawn;
  p.seed = Mix(kSeed ^ Mix(spawn));
  p.role = role;
  p.threads = threads;
  const bool cache = role == Role::kCache || role == Role::kCacheFile;
  // Publishers crash most usefully: they rename, remove and write logs.
  const int crash_one_in = role == Role::kCompactor ? 2 : cache ? 6 : 3;
  if (rng() % crash_one_in == 0) p.crash = PickCrash(rng);
  if (rng() % 4 == 0) p.space_limit = rng() % (3 << 20);
  // Below a large value's size: the file tier refuses every one of them.
  if (cache && rng() % 3 == 0) p.max_bytes = kLargeValueBytes;
  return p;
}

std::string PlanName(const WorkerPlan& p) {
  static constexpr const char* kRoles[] = {"compactor", "mixed", "cache",
                                           "cachefile"};
  std::string s = std::string(kRoles[static_cast<int>(p.role)]) + " worker " +
                  std::to_string(p.slot) + "#" + std::to_string(p.spawn);
  if (p.crash) s += ", crash " + CrashPlanName(*p.crash);
  if (p.space_limit) s += ", disk full after " + std::to_string(*p.space_limit);
  if (p.max_bytes) s += ", max_bytes " + std::to_string(p.max_bytes);
  return s;
}

FileCacheOptions StoreOptions(const WorkerPlan& plan,
                              std::shared_ptr<FaultEnv> env, bool read_only) {
  FileCacheOptions o;
  // Small thresholds: Put compacts on its own too, so publications (and
  // kills inside them) are frequent.
  o.compaction_min_bytes = 64 << 10;
  o.compaction_dead_ratio = 0.3;
  o.sync_writes = plan.crash && plan.crash->sync;
  o.max_bytes = plan.max_bytes;
  o.read_only = read_only;
  o.env = std::move(env);
  return o;
}

uint64_t LoadU64(const std::string& bytes, size_t at) {
  uint64_t v = 0;
  std::memcpy(&v, bytes.data() + at, sizeof(v));
  return v;
}

// What the store's files say of `key` (doc/format.md sections 2 to 5),
// read behind the engine's back: every index slot whose tag is the key's,
// with the version its record holds when it is stored raw.
std::string KeySlots(const std::string& index, const std::string& dir,
                     int key) {
  if (index.size() < 4096) return "";
  const std::string name = ModelKeyName(key);
  uint64_t tag = XXH3_64bits(name.data(), name.size());
  if (tag < 2) tag += 2;
  char log_name[32];
  std::snprintf(log_name, sizeof(log_name), "/log.%016llx",
                static_cast<unsigned long long>(LoadU64(index, 40)));
  const std::string log = ReadWholeFile(dir + log_name);
  const uint64_t capacity = LoadU64(index, 32);
  std::string s = "; index log_end " + std::to_string(LoadU64(index, 72)) +
                  ", log size " + std::to_string(log.size()) + ", slots of key";
  for (uint64_t i = 0; i < capacity && 4096 + 16 * (i + 1) <= index.size();
       ++i) {
    if (LoadU64(index, 4096 + 16 * i) != tag) continue;
    const uint64_t loc = LoadU64(index, 4096 + 16 * i + 8);
    s += " [" + std::to_string(i) + "]@" + std::to_string(loc);
    if (loc + 32 > log.size()) continue;
    const uint32_t key_len = static_cast<uint32_t>(LoadU64(log, loc + 8));
    const uint32_t stored = static_cast<uint32_t>(LoadU64(log, loc + 12));
    const uint8_t kind = static_cast<uint8_t>(log[loc + 20]);
    const uint8_t codec = static_cast<uint8_t>(log[loc + 21]);
    const uint64_t at = loc + (32 + key_len + 15) / 16 * 16;
    s += "(kind " + std::to_string(kind) + " codec " + std::to_string(codec);
    if (codec == 0 && at + stored <= log.size()) {
      std::string why;
      const std::optional<uint64_t> v =
          CheckValue(name, std::string_view(log).substr(at, stored), &why);
      s += v ? " v" + std::to_string(*v) : " " + why;
    }
    s += ")";
  }
  return s;
}

// The generation the store's index file names (its prelude's id, doc/
// format.md section 2), the lock file's publication record and committed
// log end, the store's files and, given a key, its slots, for a
// violation's report.
std::string StoreState(const std::string& dir, int key = -1) {
  const std::string index = ReadWholeFile(dir + "/index");
  const std::string lock = ReadWholeFile(dir + "/lock");
  std::string s =
      "index file at generation " +
      (index.size() >= 64 ? std::to_string(LoadU64(index, 16)) + " log " +
                                std::to_string(LoadU64(index, 40))
                          : std::string("(none)"));
  if (lock.size() >= 168) {
    s += "; publication announced " + std::to_string(LoadU64(lock, 128)) + "/" +
         std::to_string(LoadU64(lock, 136)) + " committed " +
         std::to_string(LoadU64(lock, 144)) + "/" +
         std::to_string(LoadU64(lock, 152)) + " unlogged erases " +
         std::to_string(LoadU64(lock, 160));
  }
  if (lock.size() >= 280) {
    s += "; committed log end " + std::to_string(LoadU64(lock, 264)) +
         " of log " + std::to_string(LoadU64(lock, 272));
  }
  s += "; files:";
  for (const std::string& name : ListDirNames(dir)) s += " " + name;
  if (key >= 0) s += KeySlots(index, dir, key);
  return s;
}

// ---------------------------------------------------------------------------
// Workers.

enum class OpKind {
  kGet,
  kGetView,
  kPut,
  kErase,
  kCompact,
  kClear,
  kReopen,
  kSync,
  kRecheck
};

struct OpWeight {
  OpKind op;
  int weight;
};

// The operation mixes, in percent. Compactors publish often so that kills
// land inside publications; read-only handles only read and reopen.
constexpr OpWeight kCompactorMix[] = {
    {OpKind::kGet, 25},   {OpKind::kGetView, 15}, {OpKind::kPut, 30},
    {OpKind::kErase, 8},  {OpKind::kCompact, 10}, {OpKind::kClear, 3},
    {OpKind::kReopen, 4}, {OpKind::kSync, 2},     {OpKind::kRecheck, 3}};
constexpr OpWeight kWriterMix[] = {
    {OpKind::kGet, 25},   {OpKind::kGetView, 20}, {OpKind::kPut, 35},
    {OpKind::kErase, 10}, {OpKind::kCompact, 1},  {OpKind::kReopen, 4},
    {OpKind::kSync, 2},   {OpKind::kRecheck, 3}};
constexpr OpWeight kReaderMix[] = {{OpKind::kGet, 40},
                                   {OpKind::kGetView, 45},
                                   {OpKind::kReopen, 8},
                                   {OpKind::kRecheck, 7}};
constexpr OpWeight kCacheMix[] = {{OpKind::kGet, 50},
                                  {OpKind::kPut, 35},
                                  {OpKind::kErase, 8},
                                  {OpKind::kReopen, 3},
                                  {OpKind::kRecheck, 4}};

template <size_t N>
OpKind PickOp(const OpWeight (&mix)[N], std::mt19937_64& rng) {
  int r = static_cast<int>(rng() % 100);
  for (const OpWeight& w : mix) {
    if (r < w.weight) return w.op;
    r -= w.weight;
  }
  return mix[0].op;
}

// A Cache that the threads of one worker share, as a program would; a
// reopen replaces it for all of them.
struct SharedCache {
  std::mutex mu;
  std::shared_ptr<Cache> cache;  // guarded by mu
  // Beside `cache` for role kCache: a second Cache of the same store that
  // only reads (stamped Gets and recalls), so that no Put or Erase through
  // it voids its stamps and only the store's counts can. Guarded by mu.
  std::shared_ptr<Cache> reader;
  uint64_t opened = 0;  // guarded by mu; numbers `cache` from 1
};

// A value or hit a thread keeps for a while, re-hashed as it goes.
struct Held {
  std::shared_ptr<const void> keep_alive;
  std::string_view data;
  uint64_t hash = 0;
  int key = 0;
  uint64_t version = 0;
  ReadContext ctx;
};

class WorkerThread {
 public:
  WorkerThread(const std::string& dir, const WorkerPlan& plan, int index,
               std::shared_ptr<FaultEnv> env, SharedCache* shared_cache,
               ModelRecord* record, Control* control)
      : dir_(dir),
        plan_(plan),
        env_(std::move(env)),
        shared_cache_(shared_cache),
        record_(record),
        control_(control),
        rng_(Mix(plan.seed + index)),
        index_(index) {
    ctx_.slot = plan.slot;
    ctx_.spawn = plan.spawn;
    ctx_.explain = &explain_;
  }

  void Run() {
    while (!control_->stop.load(std::memory_order_relaxed)) {
      if (!Ready()) {
        std::this_thread::sleep_for(milliseconds(2));
        continue;
      }
      record_->ops++;
      if (plan_.space_limit && rng_() % 400 == 0) ToggleFullDisk();
      Step();
    }
    RecheckHeld(/*drop=*/true);
  }

 private:
  bool IsCache() const {
    return plan_.role == Role::kCache || plan_.role == Role::kCacheFile;
  }

  // Opens this thread's handle when it has none; false when it cannot yet.
  bool Ready() {
    if (IsCache()) {
      std::lock_guard<std::mutex> lock(shared_cache_->mu);
      if (shared_cache_->cache == nullptr) {
        shared_cache_->cache = OpenCache();
        if (plan_.role == Role::kCache) shared_cache_->reader = OpenCache();
        ++shared_cache_->opened;
      }
      // Stamps are the cache's own: a new one recalls none of the old's.
      if (reader_ != shared_cache_->reader) recent_.clear();
      cache_ = shared_cache_->cache;
      reader_ = shared_cache_->reader;
      ctx_.cache = shared_cache_->opened;
      ctx_.handle = plan_.role == Role::kCache ? HandleKind::kCacheMemoryFile
                                               : HandleKind::kCacheFile;
      return cache_ != nullptr;
    }
    if (file_ != nullptr) return true;
    // The first thread of a worker writes; the others are read-only half
    // of the time, chosen again at every reopen.
    const bool read_only = index_ > 0 && rng_() % 2 == 0;
    auto r = FileCache::Open(dir_, StoreOptions(plan_, env_, read_only));
    if (!r.ok()) {
      Error("Open", r.status());
      return false;
    }
    file_ = std::move(r).value();
    ctx_.handle = read_only ? HandleKind::kFileReadOnly : HandleKind::kFile;
    return true;
  }

  // A Cache whose tiers all opened; null otherwise. A Cache without its
  // file tier is a private memory cache, which no other process's write can
  // reach: the rule could not hold, so such a one is not used.
  std::shared_ptr<Cache> OpenCache() {
    Options o;
    o.dir = dir_;
    o.backend =
        plan_.role == Role::kCache ? Backend::kMemoryAndFile : Backend::kFile;
    o.read_environment = false;
    o.log = [](LogLevel, std::string_view) {};
    o.memory.max_bytes = size_t{32} << 20;
    o.file = StoreOptions(plan_, env_, /*read_only=*/false);
    o.large_value_bytes = kLargeValueBytes;
    o.file_retry_interval = milliseconds(50);
    std::shared_ptr<Cache> cache = Cache::Open(o);
    if (cache->active_backend() != o.backend) {
      Error("Cache::Open", Status::IOError(cache->active_reason()));
      return nullptr;
    }
    return cache;
  }

  void Step() {
    const int key = static_cast<int>(rng_() % kModelKeys);
    OpKind op;
    if (IsCache()) {
      op = PickOp(kCacheMix, rng_);
    } else if (ctx_.handle == HandleKind::kFileReadOnly) {
      op = PickOp(kReaderMix, rng_);
    } else {
      op = plan_.role == Role::kCompactor ? PickOp(kCompactorMix, rng_)
                                          : PickOp(kWriterMix, rng_);
    }
    switch (op) {
      case OpKind::kGet:
        IsCache() ? CacheGet(key) : Get(key);
        break;
      case OpKind::kGetView:
        GetView(key);
        break;
      case OpKind::kPut:
        Put(key);
        break;
      case OpKind::kErase:
        Erase(key);
        break;
      case OpKind::kCompact:
        Publish("Compact", [&] { return file_->Compact(); });
        break;
      case OpKind::kClear:
        ClearAll();
        break;
      case OpKind::kReopen:
        Reopen();
        break;
      case OpKind::kSync:
        if (Status s = file_->Sync(); !s.ok()) Error("Sync", s);
        break;
      case OpKind::kRecheck:
        RecheckHeld(/*drop=*/rng_() % 2 == 0);
        break;
    }
  }

  // A value for a new version: mostly small, some compressible, some raw
  // above 4 KiB (zero-copy views), and through Cache a few above
  // large_value_bytes.
  std::string NewValue(int key, uint64_t version, uint32_t* flags) {
    const std::string name = ModelKeyName(key);
    const int r = static_cast<int>(rng_() % 1000);
    if (r < 550) {
      return MakeValue(name, version, Shape::kSmall,
                       static_cast<uint32_t>(rng_() % 120));
    }
    if (r < 800) {
      return MakeValue(name, version, Shape::kCompressible,
                       300 + static_cast<uint32_t>(rng_() % 5000));
    }
    if (r < 980 || !IsCache()) {
      return MakeValue(name, version, Shape::kRandom,
                       4200 + static_cast<uint32_t>(rng_() % 12000));
    }
    *flags |= kWriteLarge;
    return MakeValue(name, version, Shape::kRandom,
                     kLargeValueBytes + static_cast<uint32_t>(rng_() % 300000));
  }

  void Put(int key) {
    ModelRecord::KeyWrite write(record_, key);
    uint32_t flags = 0;
    const std::string value = NewValue(key, write.version(), &flags);
    if (IsCache()) {
      // A failure blocks the file tier for file_retry_interval only: a
      // worker descheduled that long would find the backend back to normal
      // and miss it, so the counters decide too (another thread's refusal
      // or failure meanwhile flags this put as well, which only makes its
      // memory and fallback copies' older reads lenient).
      const CacheStats before = cache_->GetStats();
      const uint32_t blocked = FileTierFlag();
      cache_->Put(ModelKeyName(key), value);
      const CacheStats after = cache_->GetStats();
      const uint32_t tier = blocked | FileTierFlag() |
                            (after.file_refusals != before.file_refusals ||
                                     after.file_failures != before.file_failures
                                 ? static_cast<uint32_t>(kWriteFileRefused)
                                 : 0);
      write.Commit(/*absent=*/false, ctx_.handle,
                   flags | tier | (tier != 0 ? ShadowFlag() : 0), ctx_.cache);
      return;
    }
    const Status s = file_->Put(ModelKeyName(key), value);
    if (s.ok()) {
      write.Commit(/*absent=*/false, ctx_.handle, flags);
    } else {
      write.Refuse();
      record_->refused++;
      if (!s.IsNoSpace()) Error("Put", s);
    }
  }

  // Cache does not say which tiers took a write; a degraded backend right
  // after it, or one more refusal (Put above), means the file tier did not.
  uint32_t FileTierFlag() const {
    return cache_->active_backend() != cache_->options().backend
               ? static_cast<uint32_t>(kWriteFileRefused)
               : 0;
  }

  // Whether this process's cache shadows some key: its file tier refused a
  // write and could not erase the older value either (cache.h).
  uint32_t ShadowFlag() const {
    return cache_->GetStats().shadowed_keys > 0
               ? static_cast<uint32_t>(kWriteShadowed)
               : 0;
  }

  void Erase(int key) {
    ModelRecord::KeyWrite write(record_, key);
    if (IsCache()) {
      cache_->Erase(ModelKeyName(key));
      write.Commit(/*absent=*/true, ctx_.handle, FileTierFlag() | ShadowFlag(),
                   ctx_.cache);
      return;
    }
    const Status s = file_->Erase(ModelKeyName(key));
    if (s.ok()) {
      write.Commit(/*absent=*/true, ctx_.handle, 0);
    } else if (!s.IsNoSpace()) {
      Error("Erase", s);
    }
  }

  void ClearAll() {
    ModelRecord::ClearAll clear(record_);
    if (Publish("Clear", [&] { return file_->Clear(); })) {
      clear.Commit(ctx_.handle);
      record_->clears++;
    }
  }

  // Runs Compact or Clear with the slot marked as publishing.
  template <typename F>
  bool Publish(const char* what, F&& fn) {
    control_->publishing[plan_.slot]++;
    const Status s = fn();
    control_->publishing[plan_.slot]--;
    if (!s.ok()) {
      if (!s.IsNoSpace()) Error(what, s);
      return false;
    }
    if (std::strcmp(what, "Compact") == 0) record_->compactions++;
    return true;
  }

  void Get(int key) {
    ReadContext ctx = ctx_;
    ctx.op = "Get";
    explain_key_ = key;
    const ReadSnapshot snap = record_->StartRead(key);
    std::string got;
    const Status s = file_->Get(ModelKeyName(key), &got);
    if (s.ok() || s.IsNotFound()) {
      record_->CheckRead(
          snap, s.ok() ? std::optional<std::string_view>(got) : std::nullopt,
          ctx);
    } else {
      Error("Get", s);
    }
  }

  void GetView(int key) {
    ReadContext ctx = ctx_;
    ctx.op = "GetView";
    explain_key_ = key;
    const ReadSnapshot snap = record_->StartRead(key);
    auto view = std::make_shared<ValueView>();
    const Status s = file_->GetView(ModelKeyName(key), view.get());
    if (!s.ok() && !s.IsNotFound()) {
      Error("GetView", s);
      return;
    }
    const uint64_t v = record_->CheckRead(
        snap,
        s.ok() ? std::optional<std::string_view>(view->data()) : std::nullopt,
        ctx);
    if (v != 0 && view->zero_copy() && rng_() % 3 == 0) {
      ctx.op = "held GetView";
      Hold(view, view->data(), key, v, ctx);
    }
  }

  // A Get through the cache, or half of the time a recall of the small
  // value an earlier stamped Get of the key returned (memoize's recent
  // hits), read from the thread's own copy while Cache::Recall vouches for
  // it. Stamped Gets and recalls go through reader_ when there is one. A
  // stamped hit is often recalled again at once, as a memoized function's
  // next calls would, while others write.
  void CacheGet(int key) {
    if (recent_.count(key) != 0 && rng_() % 2 == 0 && Recall(key)) return;
    const bool stamped = rng_() % 2 == 0;
    // A stamped read that got no stamp (a file hit that filled the memory
    // tier, a copy the probe re-stamped) reads once more: the copy is then
    // fresh, and stamped unless the store changed again.
    if (!CacheRead(key, stamped) && stamped) CacheRead(key, stamped);
    if (recent_.count(key) != 0 && rng_() % 2 == 0) {
      for (int i = 0; i < 3 && Recall(key); ++i) {
      }
    }
  }

  // One checked Get of `key`, stamped (through Stamping()) or not; true
  // when it was stamped.
  bool CacheRead(int key, bool stamped) {
    ReadContext ctx = ctx_;
    ctx.op = "Get";
    // reader_ writes nothing: no value is local to it (0 names no Cache).
    if (stamped && reader_ != nullptr) ctx.cache = 0;
    explain_key_ = key;
    const ReadSnapshot snap = record_->StartRead(key);
    // The other half reads without a scratch, so that small memory hits
    // are held by reference too.
    Cache::Scratch scratch;
    Cache::HitStamp stamp;
    std::optional<Cache::Hit> hit =
        stamped ? Stamping().Get(ModelKeyName(key), &scratch, &stamp)
                : cache_->Get(ModelKeyName(key));
    const bool got_stamp = hit && stamp.kind != Cache::HitStamp::kNone;
    if (got_stamp) {
      recent_[key] = Recent{std::string(hit->data), stamp};
    } else if (stamped) {
      recent_.erase(key);
    }
    if (hit) {
      ctx.source = hit->tier == Tier::kMemory ? Source::kMemory
                   : hit->tier == Tier::kFile ? Source::kFile
                                              : Source::kFallback;
    }
    const uint64_t v = record_->CheckRead(
        snap, hit ? std::optional<std::string_view>(hit->data) : std::nullopt,
        ctx);
    if (v != 0 && hit->keep_alive != nullptr && rng_() % 4 == 0) {
      ctx.op = "held Cache::Hit";
      Hold(hit->keep_alive, hit->data, key, v, ctx);
    }
    return got_stamp;
  }

  // The Cache of stamped Gets and recalls.
  Cache& Stamping() { return reader_ != nullptr ? *reader_ : *cache_; }

  // Reads the value recent_ holds for `key` when the cache still vouches for
  // its stamp (true), else forgets it (false).
  bool Recall(int key) {
    ReadContext ctx = ctx_;
    ctx.op = "Recall";
    ctx.source = Source::kMemory;
    if (reader_ != nullptr) ctx.cache = 0;
    explain_key_ = key;
    const ReadSnapshot snap = record_->StartRead(key);
    auto recent = recent_.find(key);
    if (!Stamping().Recall(recent->second.stamp)) {
      recent_.erase(recent);
      return false;
    }
    record_->recalls++;
    record_->CheckRead(snap, recent->second.value, ctx);
    return true;
  }

  void Hold(std::shared_ptr<const void> keep_alive, std::string_view data,
            int key, uint64_t version, const ReadContext& ctx) {
    record_->views_held++;
    held_.push_back(
        Held{std::move(keep_alive), data, HashBytes(data), key, version, ctx});
    constexpr size_t kMaxHeld = 6;
    if (held_.size() > kMaxHeld) {
      const size_t i = rng_() % held_.size();
      Recheck(held_[i]);
      held_.erase(held_.begin() + i);
    }
  }

  void Recheck(const Held& h) {
    record_->CheckHeld(h.key, h.version, h.data, h.hash, h.ctx);
  }

  // Re-hashes every held value; with `drop`, lets them go.
  void RecheckHeld(bool drop) {
    for (const Held& h : held_) Recheck(h);
    if (drop) held_.clear();
  }

  // A new handle: views and hits held from the old one stay held.
  void Reopen() {
    record_->reopens++;
    if (IsCache()) {
      std::lock_guard<std::mutex> lock(shared_cache_->mu);
      shared_cache_->cache = nullptr;
      shared_cache_->reader = nullptr;
      cache_ = nullptr;
      reader_ = nullptr;
      return;
    }
    file_.reset();
  }

  void ToggleFullDisk() {
    if (env_->SpaceRemaining()) {
      env_->ClearSpaceLimit();
    } else {
      env_->SetSpaceLimit(rng_() % (2 << 20));
    }
  }

  // The generation this thread's handle reads, against the store's.
  std::string Explain() {
    std::optional<uint64_t> generation;
    if (file_ != nullptr) {
      if (Result<FileCacheStats> st = file_->GetStats(); st.ok()) {
        generation = st->generation;
      }
    } else if (cache_ != nullptr) {
      if (std::optional<FileCacheStats> st = cache_->GetStats().file) {
        generation = st->generation;
      }
    }
    return "handle at generation " +
           (generation ? std::to_string(*generation) : std::string("?")) +
           ", " + StoreState(dir_, explain_key_);
  }

  void Error(const char* what, const Status& s) {
    if (record_->errors++ < 20) {
      std::fprintf(stderr, "model_stress: %s: %s: %s\n",
                   PlanName(plan_).c_str(), what, s.ToString().c_str());
    }
  }

  const std::string& dir_;
  const WorkerPlan& plan_;
  const std::shared_ptr<FaultEnv> env_;
  SharedCache* const shared_cache_;
  ModelRecord* const record_;
  Control* const control_;
  std::mt19937_64 rng_;
  const int index_;
  const std::function<std::string()> explain_ = [this] { return Explain(); };
  ReadContext ctx_;
  int explain_key_ = -1;  // the key of the read being checked
  std::unique_ptr<FileCache> file_;
  std::shared_ptr<Cache> cache_;
  std::shared_ptr<Cache> reader_;  // see SharedCache::reader
  std::vector<Held> held_;
  // Small values this thread read through cache_, with their stamps.
  struct Recent {
    std::string value;
    Cache::HitStamp stamp;
  };
  std::unordered_map<int, Recent> recent_;
};

int RunWorker(const std::string& dir, const WorkerPlan& plan,
              ModelRecord* record, Control* control) {
  auto env = std::make_shared<FaultEnv>();
  if (plan.space_limit) env->SetSpaceLimit(*plan.space_limit);
  if (plan.crash) {
    if (plan.crash->after) {
      env->CrashAfter(plan.crash->op, plan.crash->nth);
    } else {
      env->CrashAt(plan.crash->op, plan.crash->nth);
    }
  }
  SharedCache shared_cache;
  std::vector<std::thread> threads;
  for (int i = 0; i < plan.threads; ++i) {
    threads.emplace_back([&, i] {
      WorkerThread(dir, plan, i, env, &shared_cache, record, control).Run();
    });
  }
  for (std::thread& t : threads) t.join();
  return 0;
}

// ---------------------------------------------------------------------------
// The supervisor's own checks and faults.

// Opens the store as a new process would (a writable open cleans up and
// recovers) and checks every key; with `read_only` also through a
// read-only handle.
void CheckFresh(const std::string& dir, const char* when,
                const std::string& after, bool read_only, ModelRecord* record) {
  FileCacheOptions options;
  options.read_only = read_only;
  auto r = FileCache::Open(dir, options);
  if (!r.ok()) {
    record->errors++;
    std::fprintf(stderr, "model_stress: fresh open %s: %s\n", when,
                 r.status().ToString().c_str());
    return;
  }
  ReadContext ctx;
  ctx.handle = HandleKind::kFresh;
  ctx.op = when;
  int k = 0;
  const std::function<std::string()> explain = [&] {
    return after + "; " + StoreState(dir, k);
  };
  ctx.explain = &explain;
  for (k = 0; k < kModelKeys; ++k) {
    const ReadSnapshot snap = record->StartRead(k);
    std::string got;
    const Status s = (*r)->Get(ModelKeyName(k), &got);
    if (s.ok() || s.IsNotFound()) {
      record->CheckRead(
          snap, s.ok() ? std::optional<std::string_view>(got) : std::nullopt,
          ctx);
    } else {
      record->errors++;
    }
  }
}

// Damages the store behind the engine's back, only in bytes that no view
// shows, and then a byte of the index's prelude (its checksum fails, so the
// next open recovers from the log). Half the time as a bit flip would: the
// `reserved` field of one committed record's header (the record no longer
// parses). Otherwise as a power loss would that kept the log's pages but
// not the lock file's last ones: the lock file's committed log end goes
// back to an earlier record's start, with committed puts and erases past
// it (until the next commit notes the end again). Offsets are
// doc/format.md's, sections 2 to 5.
bool DamageStore(const std::string& dir, std::mt19937_64& rng) {
  const std::string index = ReadWholeFile(dir + "/index");
  if (index.size() < 4096) return false;
  char log_name[32];
  std::snprintf(log_name, sizeof(log_name), "/log.%016llx",
                static_cast<unsigned long long>(LoadU64(index, 40)));
  const std::string log = ReadWholeFile(dir + log_name);
  const uint64_t log_end = std::min<uint64_t>(LoadU64(index, 72), log.size());
  std::vector<uint64_t> records;
  for (uint64_t off = 64; off + 32 <= log_end;) {
    const uint32_t key_len = static_cast<uint32_t>(LoadU64(log, off + 8));
    const uint32_t stored_len = static_cast<uint32_t>(LoadU64(log, off + 12));
    const uint64_t size =
        (32 + key_len + 15) / 16 * 16 + (uint64_t{stored_len} + 15) / 16 * 16;
    if (key_len == 0 || key_len > 65536 || off + size > log_end) break;
    records.push_back(off);
    off += size;
  }
  if (records.empty()) return false;
  // One fault at a time: a power loss with the log kept leaves no damaged
  // record, and a bit flip does not move the lock file's words.
  const std::string lock = ReadWholeFile(dir + "/lock");
  const bool roll_back = records.size() > 1 && rng() % 2 == 0 &&
                         lock.size() >= 280 &&
                         LoadU64(lock, 272) == LoadU64(index, 40);
  bool done = false;
  if (roll_back) {
    const uint64_t earlier = records[1 + rng() % (records.size() - 1)];
    const int lock_fd = ::open((dir + "/lock").c_str(), O_WRONLY | O_CLOEXEC);
    if (lock_fd >= 0) {
      done = ::pwrite(lock_fd, &earlier, 8, 264) == 8;
      ::close(lock_fd);
    }
  } else {
    const int log_fd = ::open((dir + log_name).c_str(), O_WRONLY | O_CLOEXEC);
    if (log_fd >= 0) {
      const uint8_t reserved = 0x5A;
      done = ::pwrite(log_fd, &reserved, 1,
                      records[rng() % records.size()] + 22) == 1;
      ::close(log_fd);
    }
  }
  const int index_fd = ::open((dir + "/index").c_str(), O_WRONLY | O_CLOEXEC);
  if (index_fd >= 0) {
    const uint8_t prelude = static_cast<uint8_t>(index[24] ^ 0x10);
    done = ::pwrite(index_fd, &prelude, 1, 24) == 1 && done;
    ::close(index_fd);
  }
  return done;
}

// Prints the stacks of every thread of the processes `pids` (a shell word
// list) to stderr, with gdb.
void PrintStacks(const std::string& pids) {
  const std::string cmd =
      "for p in " + pids +
      "; do echo \"== stacks of pid $p\"; timeout 60 "
      "gdb -batch -nx -p $p -ex 'thread apply all bt' 2>&1 | "
      "grep -E '^(#|Thread)'; done >&2";
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "model_stress: (some stacks may be missing)\n");
  }
}

// Prints who holds the store's writers' mutex, read from the lock file: a
// robust mutex's futex word (glibc: the mutex's first 4 bytes, at offset
// 64 of the file) holds its owner's thread id. With the owner alive, its
// stacks too; a dead owner that the kernel did not mark is a hang's cause.
void PrintMutexOwner(const std::string& dir) {
  const std::string lock = ReadWholeFile(dir + "/lock");
  if (lock.size() < 68) return;
  uint32_t word;
  std::memcpy(&word, lock.data() + 64, sizeof(word));
  const uint32_t tid = word & 0x3fffffff;
  const std::string status =
      ReadWholeFile("/proc/" + std::to_string(tid) + "/status");
  const size_t at = status.find("Tgid:");
  const std::string tgid =
      at == std::string::npos
          ? ""
          : std::to_string(std::strtoul(status.c_str() + at + 5, nullptr, 10));
  std::fprintf(
      stderr, "model_stress: writers' mutex word 0x%08x: owner thread %u, %s\n",
      word, tid,
      tid == 0       ? "none"
      : tgid.empty() ? "not alive"
                     : ("alive in process " + tgid).c_str());
  if (tid != 0 && !tgid.empty()) PrintStacks(tgid);
}

// A process (not a thread: every fork of the supervisor must find it
// single-threaded) that watches `control`'s heartbeat. When the supervisor
// stalls, it prints the stacks of the supervisor and of its children (the
// workers, one of which probably holds what the supervisor waits for)
// with gdb, then aborts the supervisor.
pid_t StartWatchdog(Control* control) {
  const pid_t supervisor = ::getpid();
  control->heartbeat_ms = SteadyMs();
  return Spawn([=] {
    const int64_t stall_ms = kStallTimeout.count() * 1000;
    while (!control->checked.load() && ::getppid() == supervisor) {
      std::this_thread::sleep_for(milliseconds(500));
      if (SteadyMs() - control->heartbeat_ms.load() < stall_ms) continue;
      const std::string pid = std::to_string(supervisor);
      std::fprintf(stderr,
                   "model_stress: the supervisor made no progress "
                   "for %lld s; its stacks and its workers':\n",
                   static_cast<long long>(kStallTimeout.count()));
      PrintStacks(pid + " $(cat /proc/" + pid + "/task/*/children)");
      ::kill(supervisor, SIGABRT);
      return 1;
    }
    return 0;
  });
}

// What a finished worker's exit says, counted into `record`.
void NoteExit(const WorkerPlan& plan, const ChildExit& ended, bool killed,
              ModelRecord* record) {
  if (ended.code() == FaultEnv::kCrashExitCode) {
    record->crash_points++;
    return;
  }
  if (killed && ended.signaled() && ended.signal() == SIGKILL) {
    record->kills++;
    return;
  }
  if (ended.timed_out) {
    record->hung++;
  } else if (ended.code() != 0 || !killed) {
    record->crashes++;
  }
  std::fprintf(stderr, "model_stress: %s ended: %s\n", PlanName(plan).c_str(),
               ended.ToString().c_str());
}

TEST(ModelStressTest, CommittedVersionsAcrossKillsCrashesAndFullDisks) {
  const int64_t seconds = EnvInt("UCACHE_MODEL_SECONDS", 20);
  const int procs = static_cast<int>(
      std::clamp<int64_t>(EnvInt("UCACHE_MODEL_PROCESSES", 4), 1, kMaxSlots));
  const int threads = static_cast<int>(
      std::clamp<int64_t>(EnvInt("UCACHE_MODEL_THREADS", 2), 1, 8));
  const int64_t kill_ms =
      std::max<int64_t>(EnvInt("UCACHE_MODEL_KILL_MS", 120), 2);
  const int64_t damage_ms = EnvInt("UCACHE_MODEL_DAMAGE_MS", 600);
  const std::vector<Role> roles = RolesFromEnv();

  TempDir tmp;
  const std::string dir = tmp.Sub("store");
  {
    // Created before any worker, so that read-only handles find a store.
    auto fc = FileCache::Open(dir);
    ASSERT_OK(fc);
  }
  Shared<ModelRecord> record;
  Shared<Control> control;
  std::mt19937_64 rng(Mix(kSeed));
  std::vector<WorkerPlan> plans(procs);
  std::vector<pid_t> pids(procs);
  uint64_t spawns = 0;
  auto spawn = [&](int slot) {
    plans[slot] =
        PlanFor(slot, ++spawns, roles[slot % roles.size()], threads, rng);
    const WorkerPlan& plan = plans[slot];
    pids[slot] =
        Spawn([&] { return RunWorker(dir, plan, &*record, &*control); });
  };
  for (int slot = 0; slot < procs; ++slot) spawn(slot);
  const pid_t watchdog = StartWatchdog(&*control);

  // After every death: a fresh look at the store, then a new incarnation.
  auto replace = [&](int slot, const ChildExit& ended, bool killed) {
    NoteExit(plans[slot], ended, killed, &*record);
    CheckFresh(dir, "fresh open after a worker died",
               PlanName(plans[slot]) + " " + ended.ToString(), false, &*record);
    spawn(slot);
  };
  const auto start = steady_clock::now();
  const auto deadline = start + std::chrono::seconds(seconds);
  auto next_kill = start + milliseconds(1 + rng() % kill_ms);
  auto next_damage = start + milliseconds(damage_ms);
  while (steady_clock::now() < deadline) {
    control->heartbeat_ms = SteadyMs();
    for (int slot = 0; slot < procs; ++slot) {
      int status = 0;
      if (::waitpid(pids[slot], &status, WNOHANG) == pids[slot]) {
        ChildExit ended;
        ended.status = status;
        ended.waited = true;
        replace(slot, ended, /*killed=*/false);
      }
    }
    if (steady_clock::now() >= next_kill) {
      int victim = static_cast<int>(rng() % procs);
      // A third of the kills wait for a publication in progress.
      if (rng() % 3 == 0) {
        const auto give_up = steady_clock::now() + milliseconds(20);
        while (steady_clock::now() < give_up) {
          const int s = static_cast<int>(rng() % procs);
          if (control->publishing[s].load() > 0) {
            victim = s;
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 400));
            break;
          }
        }
      }
      ::kill(pids[victim], SIGKILL);
      replace(victim, WaitChild(pids[victim], kStopTimeout), /*killed=*/true);
      next_kill = steady_clock::now() + milliseconds(1 + rng() % kill_ms);
    }
    if (damage_ms > 0 && steady_clock::now() >= next_damage) {
      if (DamageStore(dir, rng)) {
        record->damaged++;
        // Recovery now, while the workers hold views into the log.
        CheckFresh(dir, "fresh open after damage", "damaged", false, &*record);
      }
      next_damage = steady_clock::now() + milliseconds(damage_ms);
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  control->stop = 1;
  for (int slot = 0; slot < procs; ++slot) {
    control->heartbeat_ms = SteadyMs();
    const ChildExit ended = WaitChild(pids[slot], kStopTimeout, [&] {
      std::fprintf(stderr,
                   "model_stress: %s still runs %lld s after the stop; "
                   "its stacks:\n",
                   PlanName(plans[slot]).c_str(),
                   static_cast<long long>(kStopTimeout.count() / 1000));
      PrintStacks(std::to_string(pids[slot]));
      PrintMutexOwner(dir);
    });
    if (!ended.clean()) NoteExit(plans[slot], ended, false, &*record);
  }
  control->heartbeat_ms = SteadyMs();

  // Quiet now: every key once more, and the store must verify.
  CheckFresh(dir, "fresh open at the end", "stopped", false, &*record);
  CheckFresh(dir, "fresh read-only open at the end", "stopped", true, &*record);
  auto fc = FileCache::Open(dir);
  ASSERT_OK(fc);
  auto report = (*fc)->Verify();
  ASSERT_OK(report);
  const uint64_t damaged = record->damaged;
  const bool explained = damaged == 0
                             ? report->clean()
                             : report->corrupt_records <= damaged &&
                                   report->bad_index_entries <= damaged;
  if (!explained) record->verify_unexplained++;
  control->checked = 1;
  EXPECT_TRUE(WaitChild(watchdog, kStopTimeout).clean());
  std::printf(
      "model_stress: %d processes x %d threads for %lld s, %llu spawns; "
      "final Verify: %s\n",
      procs, threads, static_cast<long long>(seconds),
      static_cast<unsigned long long>(spawns), VerifyString(*report).c_str());
  record->Report(kSeed);

  EXPECT_EQ(record->TotalViolations(), 0u)
      << "wrong values read; seed " << kSeed << ", first ones above";
  EXPECT_EQ(record->crashes, 0u) << "workers died by a signal not sent";
  EXPECT_EQ(record->hung, 0u);
  EXPECT_EQ(record->verify_unexplained, 0u) << VerifyString(*report);
  // A run that read nothing, or killed nothing, judged nothing.
  EXPECT_GT(record->hits, 0u);
  bool any_cache = false;
  for (int slot = 0; slot < procs; ++slot) {
    any_cache = any_cache || roles[slot % roles.size()] == Role::kCache;
  }
  if (any_cache) {
    EXPECT_GT(record->recalls, 0u) << "no small value was ever recalled";
  }
  EXPECT_GT(record->kills + record->crash_points, 0u);
}

}  // namespace
}  // namespace ucache
