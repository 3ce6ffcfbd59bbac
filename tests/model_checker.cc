#include "tests/model_checker.h"

#include <errno.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "src/fcache/lock_file.h"
#include "tests/stress_util.h"

namespace ucache {
namespace {

std::string_view SourceName(Source s) {
  switch (s) {
    case Source::kStore:
      return "store";
    case Source::kMemory:
      return "memory tier";
    case Source::kFile:
      return "file tier";
    case Source::kFallback:
      return "fallback tier";
  }
  return "?";
}

std::string_view CauseName(Cause c) {
  switch (c) {
    case Cause::kOtherProcess:
      return "written by another process";
    case Cause::kSameProcess:
      return "written by this process";
    case Cause::kOwnLarge:
      return "a large value this process wrote";
    case Cause::kOwnRefused:
      return "a write of this process the file tier refused";
  }
  return "?";
}

std::string Committed(uint64_t packed) {
  if (packed == 0) return "never written";
  return "v" + std::to_string(packed >> 1) + (packed & 1 ? " (absent)" : "");
}

}  // namespace

std::string ModelKeyName(int i) {
  if (i % 13 == 5)
    return "model/long/" + std::string(200, 'k') + std::to_string(i);
  return "model/" + std::to_string(i);
}

std::string_view HandleKindName(HandleKind kind) {
  switch (kind) {
    case HandleKind::kFile:
      return "fcache";
    case HandleKind::kFileReadOnly:
      return "fcache-ro";
    case HandleKind::kCacheMemoryFile:
      return "cache(memory+file)";
    case HandleKind::kCacheFile:
      return "cache(file)";
    case HandleKind::kFresh:
      return "fresh-open";
  }
  return "?";
}

std::string_view ViolationName(Violation v) {
  switch (v) {
    case Violation::kWrong:
      return "WRONG";
    case Violation::kStale:
      return "STALE";
    case Violation::kResurrected:
      return "RESURRECTED";
    case Violation::kChanged:
      return "CHANGED";
    case Violation::kCorrupt:
      return "CORRUPT";
  }
  return "?";
}

ModelRecord::ModelRecord() {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  for (Key& k : keys_) {
    if (pthread_mutex_init(&k.mu, &attr) != 0) std::abort();
  }
  pthread_mutexattr_destroy(&attr);
}

ModelRecord::~ModelRecord() {
  for (Key& k : keys_) pthread_mutex_destroy(&k.mu);
}

void ModelRecord::Lock(int key) {
  // Workers are SIGKILLed at random, so a plain pthread_mutex_lock could
  // sleep through a wakeup their deaths swallowed (lock_file.h).
  const int rc = fcache_internal::LockRobustMutex(&keys_[key].mu);
  if (rc == EOWNERDEAD) {
    // The holder died inside its write: whatever it had in flight may or
    // may not have committed, which the read rule (v >= committed) allows.
    uncertain++;
    pthread_mutex_consistent(&keys_[key].mu);
  } else if (rc != 0) {
    std::fprintf(stderr, "model: key mutex: error %d\n", rc);
    std::abort();
  }
}

void ModelRecord::Unlock(int key) { pthread_mutex_unlock(&keys_[key].mu); }

ModelRecord::KeyWrite::KeyWrite(ModelRecord* record, int key)
    : record_(record), key_(key) {
  record_->Lock(key);
  Key& k = record_->keys_[key];
  version_ = ++k.next_version;
  k.inflight = version_;
}

ModelRecord::KeyWrite::~KeyWrite() { record_->Unlock(key_); }

void ModelRecord::KeyWrite::Commit(bool absent, HandleKind by, uint32_t flags,
                                   uint64_t cache) {
  Key& k = record_->keys_[key_];
  k.committed_pid = ::getpid();
  k.committed_cache = cache;
  k.committed_flags = flags;
  k.committed_by = static_cast<uint8_t>(by);
  k.committed = version_ << 1 | (absent ? 1 : 0);
}

void ModelRecord::KeyWrite::Refuse() {
  record_->keys_[key_].refused = version_;
}

ModelRecord::ClearAll::ClearAll(ModelRecord* record) : record_(record) {
  for (int i = 0; i < kModelKeys; ++i) {
    record_->Lock(i);
    Key& k = record_->keys_[i];
    versions_[i] = ++k.next_version;
    k.inflight = versions_[i];
  }
}

ModelRecord::ClearAll::~ClearAll() {
  for (int i = kModelKeys - 1; i >= 0; --i) record_->Unlock(i);
}

void ModelRecord::ClearAll::Commit(HandleKind by) {
  for (int i = 0; i < kModelKeys; ++i) {
    Key& k = record_->keys_[i];
    k.committed_pid = ::getpid();
    k.committed_cache = 0;
    k.committed_flags = 0;
    k.committed_by = static_cast<uint8_t>(by);
    k.committed = versions_[i] << 1 | 1;
  }
}

ReadSnapshot ModelRecord::StartRead(int key) const {
  return ReadSnapshot{key, keys_[key].committed.load()};
}

uint64_t ModelRecord::CheckRead(const ReadSnapshot& snap,
                                std::optional<std::string_view> value,
                                const ReadContext& ctx) {
  if (!value) {
    misses++;
    return 0;
  }
  const std::string key = ModelKeyName(snap.key);
  std::string why;
  const std::optional<uint64_t> v = CheckValue(key, *value, &why);
  const Key& k = keys_[snap.key];
  const std::string head = "key " + std::to_string(snap.key) + ": ";
  if (!v) {
    Record(Violation::kCorrupt, ctx, Cause::kOtherProcess,
           head + why + " (" + std::to_string(value->size()) + " bytes)");
    return 0;
  }
  const uint64_t next = k.next_version.load();
  const uint64_t committed = snap.committed >> 1;
  const std::string read = "read v" + std::to_string(*v) + ", committed " +
                           Committed(snap.committed) + " at read start, " +
                           "newest version v" + std::to_string(next);
  if (*v == 0 || *v > next) {
    Record(Violation::kWrong, ctx, Cause::kOtherProcess,
           head + read + ": a version never written");
    return 0;
  }
  if (*v == k.refused.load()) {
    Record(Violation::kWrong, ctx, Cause::kOtherProcess,
           head + read + ": its put reported failure (contract 6)");
    return 0;
  }
  if (*v < committed) {
    const uint32_t flags = k.committed_flags.load();
    if (LocalToItsCache(flags, ctx.source) &&
        (k.committed_pid.load() != ::getpid() ||
         k.committed_cache.load() != ctx.cache)) {
      shadowed_reads++;
      return 0;
    }
    const Cause cause = k.committed_pid.load() != ::getpid()
                            ? Cause::kOtherProcess
                        : flags & kWriteFileRefused ? Cause::kOwnRefused
                        : flags & kWriteLarge       ? Cause::kOwnLarge
                                                    : Cause::kSameProcess;
    const auto by = static_cast<HandleKind>(k.committed_by.load());
    Record(
        snap.committed & 1 ? Violation::kResurrected : Violation::kStale, ctx,
        cause,
        head + read + "; committed by " + std::string(HandleKindName(by)) +
            (flags & kWriteLarge ? ", a large value" : "") +
            (flags & kWriteFileRefused ? ", not taken by the file tier" : "") +
            ", " + std::string(CauseName(cause)));
    return 0;
  }
  hits++;
  return *v;
}

void ModelRecord::CheckHeld(int key, uint64_t version, std::string_view data,
                            uint64_t hash, const ReadContext& ctx) {
  if (HashBytes(data) == hash) return;
  std::string why;
  const std::optional<uint64_t> now = CheckValue(ModelKeyName(key), data, &why);
  Record(Violation::kChanged, ctx, Cause::kOtherProcess,
         "key " + std::to_string(key) + ": a held value of v" +
             std::to_string(version) + " (" + std::to_string(data.size()) +
             " bytes) changed under its holder; it now reads as " +
             (now ? "v" + std::to_string(*now) : why));
}

void ModelRecord::Record(Violation v, const ReadContext& ctx, Cause cause,
                         const std::string& what) {
  const uint64_t n =
      counts_[static_cast<int>(v)][static_cast<int>(ctx.handle)]
             [static_cast<int>(ctx.source)][static_cast<int>(cause)]++;
  if (n >= kKeptLines) return;
  std::snprintf(
      lines_[static_cast<int>(v)][static_cast<int>(ctx.handle)]
            [static_cast<int>(ctx.source)][static_cast<int>(cause)][n],
      kLineBytes, "%s, worker %d#%llu: %s", ctx.op, ctx.slot,
      static_cast<unsigned long long>(ctx.spawn),
      (what + (ctx.explain ? " [" + (*ctx.explain)() + "]" : "")).c_str());
}

uint64_t ModelRecord::Count(Violation v) const {
  uint64_t n = 0;
  for (const auto& by_handle : counts_[static_cast<int>(v)]) {
    for (const auto& by_source : by_handle) {
      for (const auto& c : by_source) n += c.load();
    }
  }
  return n;
}

uint64_t ModelRecord::TotalViolations() const {
  uint64_t n = 0;
  for (int v = 0; v < kNumViolations; ++v)
    n += Count(static_cast<Violation>(v));
  return n;
}

void ModelRecord::Report(uint64_t seed) const {
  for (int v = 0; v < kNumViolations; ++v) {
    for (int h = 0; h < kNumHandleKinds; ++h) {
      for (int s = 0; s < kNumSources; ++s) {
        for (int c = 0; c < kNumCauses; ++c) {
          const uint64_t n = counts_[v][h][s][c].load();
          if (n == 0) continue;
          const auto viol = static_cast<Violation>(v);
          const bool replaced =
              viol == Violation::kStale || viol == Violation::kResurrected;
          const std::string_view handle =
              HandleKindName(static_cast<HandleKind>(h));
          const std::string_view source = SourceName(static_cast<Source>(s));
          const std::string_view cause = CauseName(static_cast<Cause>(c));
          std::printf(
              "model_stress: %llu %.*s by %.*s from the %.*s%s%.*s, e.g.\n",
              static_cast<unsigned long long>(n),
              static_cast<int>(ViolationName(viol).size()),
              ViolationName(viol).data(), static_cast<int>(handle.size()),
              handle.data(), static_cast<int>(source.size()), source.data(),
              replaced ? ", newer version " : "",
              replaced ? static_cast<int>(cause.size()) : 0, cause.data());
          for (uint64_t i = 0; i < std::min<uint64_t>(n, kKeptLines); ++i) {
            std::printf("    %s\n", lines_[v][h][s][c][i]);
          }
        }
      }
    }
  }
  if (TotalViolations() > 0) {
    std::printf(
        "model_stress: seed=%llu; rerun with "
        "--test_env=UCACHE_TEST_SEED=%llu (timing is not replayed)\n",
        static_cast<unsigned long long>(seed),
        static_cast<unsigned long long>(seed));
  }
  std::printf(
      "SUMMARY model_stress: %llu ops, %llu kills, %llu crash-points, %llu "
      "wrong, %llu stale, %llu resurrected, %llu changed, %llu corrupt; %llu "
      "crashes, %llu hung, %llu hits, %llu misses, %llu refused puts, %llu "
      "errors, %llu uncertain writes, %llu compactions, %llu clears, %llu "
      "reopens, %llu views held, %llu recalls, %llu damaged stores, %llu "
      "unexplained Verify reports, %llu documented process-local reads\n",
      static_cast<unsigned long long>(ops.load()),
      static_cast<unsigned long long>(kills.load()),
      static_cast<unsigned long long>(crash_points.load()),
      static_cast<unsigned long long>(Count(Violation::kWrong)),
      static_cast<unsigned long long>(Count(Violation::kStale)),
      static_cast<unsigned long long>(Count(Violation::kResurrected)),
      static_cast<unsigned long long>(Count(Violation::kChanged)),
      static_cast<unsigned long long>(Count(Violation::kCorrupt)),
      static_cast<unsigned long long>(crashes.load()),
      static_cast<unsigned long long>(hung.load()),
      static_cast<unsigned long long>(hits.load()),
      static_cast<unsigned long long>(misses.load()),
      static_cast<unsigned long long>(refused.load()),
      static_cast<unsigned long long>(errors.load()),
      static_cast<unsigned long long>(uncertain.load()),
      static_cast<unsigned long long>(compactions.load()),
      static_cast<unsigned long long>(clears.load()),
      static_cast<unsigned long long>(reopens.load()),
      static_cast<unsigned long long>(views_held.load()),
      static_cast<unsigned long long>(recalls.load()),
      static_cast<unsigned long long>(damaged.load()),
      static_cast<unsigned long long>(verify_unexplained.load()),
      static_cast<unsigned long long>(shadowed_reads.load()));
  std::fflush(stdout);
}

}  // namespace ucache
