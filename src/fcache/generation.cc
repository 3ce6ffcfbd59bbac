#include "src/fcache/generation.h"

#include <algorithm>

namespace ucache::fcache_internal {
namespace {

// A publication replaces "index" and then unlinks the old log; an opener
// caught between the two retries. Each retry means another process
// published a generation in between, so a small bound suffices.
constexpr int kOpenAttempts = 64;

}  // namespace

Result<bool> Generation::Current(const LockFile* lock, bool writable) {
  if (Replaced()) return false;
  if (lock != nullptr &&
      LoadShared(lock->publication().announced_generation) ==
          index->generation()) {
    return true;
  }
  Result<bool> linked = index->Linked();
  if (!linked.ok()) return linked.status();
  if (*linked) return true;
  orphaned.store(true, std::memory_order_release);
  if (writable) StoreShared(index->header().superseded, 1);
  return false;
}

void Generation::NoteCommitted(uint64_t offset, const EncodedRecord& record) {
  if (record.header().kind == kRecordPut &&
      record.header().stored_len >= VerifiedSet::kMinBytes) {
    verified.Insert(offset);
  }
}

void Generation::PrefetchAppend(uint64_t tag, uint64_t size) const {
  // Records of the tag the chain names: one, or two while a key is being
  // replaced; a longer chain of one tag is damage, left to the append.
  constexpr int kMaxNamed = 4;
  const uint8_t* named[kMaxNamed];
  int n = 0;
  const uint64_t limit = ReadLimit();
  index->Find(tag, [&](uint64_t loc) {
    if (loc < limit && n < kMaxNamed) {
      named[n] = log->data() + loc;
      __builtin_prefetch(named[n++]);
    }
    return false;  // the whole chain, as the append walks it
  });
  const uint64_t end = LoadShared(index->header().log_end);
  const uint64_t tail = std::min(log->readable(), end + size);
  for (uint64_t at = end; at < tail; at += 64) {
    __builtin_prefetch(log->data() + at, /*rw=*/1);
  }
  // Waits for the records' first lines here rather than under the mutex.
  uint8_t sink = 0;
  for (int i = 0; i < n; ++i) {
    sink ^= *reinterpret_cast<const volatile uint8_t*>(named[i]);
  }
  asm volatile("" : : "r"(sink));
}

uint64_t Generation::ReadLimit() const {
  return std::min(LoadShared(index->header().log_end), log->readable());
}

bool Generation::Parse(uint64_t loc, RecordView* out) const {
  return ParseRecord(log->data(), ReadLimit(), loc, out);
}

bool Generation::ChecksumMatchesOnce(const RecordView& record) {
  const bool large = record.header->stored_len >= VerifiedSet::kMinBytes;
  if (large && verified.Contains(record.offset)) return true;
  WillRead(record);
  if (!ChecksumMatches(record)) return false;
  if (large) verified.Insert(record.offset);
  return true;
}

bool Generation::ReadValueOnce(const RecordView& record, std::string* value) {
  const bool large = record.header->stored_len >= VerifiedSet::kMinBytes;
  if (large && verified.Contains(record.offset)) {
    if (record.header->codec != kCodecRaw) {
      return DecompressValue(record, value);
    }
    value->assign(record.stored.data(), record.stored.size());
    return true;
  }
  WillRead(record);
  if (!ReadValue(record, value)) return false;
  if (large) verified.Insert(record.offset);
  return true;
}

void Generation::WillRead(const RecordView& record) const {
  // Below this the kernel's fault-around (16 pages a fault) is as good.
  constexpr uint64_t kWillReadBytes = 256 << 10;
  if (record.size >= kWillReadBytes) log->WillRead(record.offset, record.size);
}

Result<std::unique_ptr<Generation>> OpenCurrentGeneration(
    const std::shared_ptr<Env>& env, const std::string& dir, bool writable) {
  const std::string index_path = dir + "/" + kIndexFileName;
  for (int attempt = 0; attempt < kOpenAttempts; ++attempt) {
    Result<std::unique_ptr<IndexFile>> index =
        IndexFile::Open(env, index_path, writable);
    if (!index.ok()) return index.status();
    if ((*index)->superseded()) continue;
    Result<std::unique_ptr<LogFile>> log =
        LogFile::Open(env, dir, (*index)->log_id(), writable);
    if (!log.ok()) {
      if ((*index)->superseded()) continue;
      if (log.status().IsNotFound()) {
        return Status::Corruption(dir + ": the index names log " +
                                  LogFileName((*index)->log_id()) +
                                  ", which is missing");
      }
      return log.status();
    }
    auto gen = std::make_unique<Generation>();
    gen->index = std::move(*index);
    gen->log = std::move(*log);
    return gen;
  }
  return Status::Busy(dir +
                      ": the store kept changing generation while opening");
}

CarriedCounters CountersOf(const IndexHeader& header) {
  CarriedCounters c;
  c.evictions = LoadShared(header.evictions);
  c.expired_dropped = LoadShared(header.expired_dropped);
  c.corrupt_records = LoadShared(header.corrupt_records);
  c.compactions = LoadShared(header.compactions);
  return c;
}

uint64_t NextGeneration(uint64_t previous, const LockFile& lock) {
  // Generations advance by one per publication; a record billions ahead of
  // the store's own numbers was not written by a publisher.
  constexpr uint64_t kPlausibleLead = uint64_t{1} << 32;
  uint64_t next = previous;
  const Publication& p = lock.publication();
  for (uint64_t g : {LoadShared(p.announced_generation),
                     LoadShared(p.committed_generation)}) {
    if (g > next && g - previous < kPlausibleLead) next = g;
  }
  return next + 1;
}

void SettlePublication(LockFile& lock, const Generation& gen) {
  Publication& p = lock.publication();
  const uint64_t g = gen.index->generation(), id = gen.log->id();
  // A publisher killed between its rename and noting its log's end left
  // the lock file naming another log: noted before anything is appended
  // past it, or a record appended there and never committed would come
  // back through recovery's scan of a log of unknown end.
  if (lock.LogEnd(id) == 0) {
    lock.NoteLogEnd(id, LoadShared(gen.index->header().log_end));
  }
  if (LoadShared(p.announced_generation) == g &&
      LoadShared(p.announced_log_id) == id &&
      LoadShared(p.committed_generation) == g &&
      LoadShared(p.committed_log_id) == id) {
    return;
  }
  // Committed first: until the announcement matches, handles keep checking
  // their index's name, which is right for every one of them.
  StoreShared(p.committed_log_id, id);
  StoreShared(p.committed_generation, g);
  StoreShared(p.announced_log_id, id);
  StoreShared(p.announced_generation, g);
}

Result<std::unique_ptr<Generation>> PublishGeneration(
    const std::shared_ptr<Env>& env, const std::string& dir, LockFile& lock,
    std::shared_ptr<LogFile> log, uint64_t log_end,
    const std::vector<LiveRecord>& records, uint64_t previous,
    const CarriedCounters& counters, const Generation* old, bool sync) {
  const uint64_t generation = NextGeneration(previous, lock);
  const uint64_t capacity = CapacityFor(records.size());
  const std::string tmp_path = dir + "/" + kIndexTempName;
  Result<std::unique_ptr<IndexFile>> index =
      IndexFile::Create(env, tmp_path, capacity, generation, log->id());
  if (!index.ok()) return index.status();

  uint64_t live_bytes = 0, raw_bytes = 0, stored_bytes = 0;
  for (const LiveRecord& r : records) {
    int64_t free_slot = -1;
    (*index)->Find(
        r.tag, [](uint64_t) { return false; }, &free_slot);
    (*index)->Fill(static_cast<uint64_t>(free_slot), r.tag, r.loc);
    live_bytes += r.size;
    raw_bytes += r.value_len;
    stored_bytes += r.stored_len;
  }
  IndexHeader& h = (*index)->header();
  h.log_end = log_end;
  h.live_slots = records.size();
  h.live_bytes = live_bytes;
  h.raw_value_bytes = raw_bytes;
  h.stored_value_bytes = stored_bytes;
  h.dead_bytes = log_end - kLogHeaderSize - live_bytes;
  h.evictions = counters.evictions;
  h.expired_dropped = counters.expired_dropped;
  h.corrupt_records = counters.corrupt_records;
  h.compactions = counters.compactions;

  Status s;
  if (sync) {
    s = log->Sync();
    if (s.ok()) s = (*index)->Sync();
  }
  Publication& p = lock.publication();
  if (s.ok()) {
    // Announced before the rename: from here until the record is committed,
    // every handle whose generation is not this one checks that its index
    // still has a name, so a publisher killed on return from rename() (before
    // it can set `superseded`) leaves no handle behind.
    StoreShared(p.announced_log_id, log->id());
    StoreShared(p.announced_generation, generation);
    s = env->Rename(tmp_path, dir + "/" + kIndexFileName);
  }
  if (!s.ok()) {
    env->Remove(tmp_path).IgnoreError();  // a leftover the next open removes
    if (old != nullptr) SettlePublication(lock, *old);  // nothing changed
    return s;
  }
  // Once the log is current, not before: a publication that fails leaves
  // the old log's end noted.
  lock.NoteLogEnd(log->id(), log_end);
  if (old != nullptr) StoreShared(old->index->header().superseded, 1);
  StoreShared(p.committed_log_id, log->id());
  StoreShared(p.committed_generation, generation);
  // The record before the directory: a power loss between the two then
  // leaves a record naming a log the directory may lack (recovery finds
  // nothing to bring back), never one naming the old log, which may still
  // be there with versions this publication replaced.
  if (sync) s = lock.Sync();
  if (sync && s.ok()) s = env->SyncDir(dir);
  // A new log holds only what the index named: no erase is missing from it.
  // Cleared last, so that the count stays on disk (the next synced write
  // puts its 0 there) until the new index surely is: a power loss that
  // brings the old index back brings back a log an erase may be missing
  // from.
  if (old == nullptr || old->log->id() != log->id()) {
    StoreShared(p.unlogged_erases, 0);
  }
  if (old != nullptr && old->log->id() != log->id()) {
    // Views into it keep their mappings; the next open removes a leftover.
    env->Remove(old->log->path()).IgnoreError();
  }
  if (!s.ok()) {
    return s.WithContext("syncing the lock file and directory of " + dir);
  }
  auto gen = std::make_unique<Generation>();
  gen->index = std::move(*index);
  gen->log = std::move(log);
  // The same log object, so the same file and bytes: what this handle
  // verified there holds still.
  if (old != nullptr && old->log == gen->log) {
    gen->verified.CopyFrom(old->verified);
  }
  return gen;
}

}  // namespace ucache::fcache_internal
