#include "src/fcache/generation.h"

#include <algorithm>

namespace ucache::fcache_internal {
namespace {

// A publication replaces "index" and then unlinks the old log; an opener
// caught between the two retries. Each retry means another process
// published a generation in between, so a small bound suffices.
constexpr int kOpenAttempts = 64;

}  // namespace

uint64_t Generation::ReadLimit() const {
  return std::min(LoadShared(index->header().log_end), log->readable());
}

bool Generation::Parse(uint64_t loc, RecordView* out) const {
  return ParseRecord(log->data(), ReadLimit(), loc, out);
}

bool Generation::ChecksumMatchesOnce(const RecordView& record) {
  const bool large = record.header->stored_len >= VerifiedSet::kMinBytes;
  if (large && verified.Contains(record.offset)) return true;
  if (!ChecksumMatches(record)) return false;
  if (large) verified.Insert(record.offset);
  return true;
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

Result<std::unique_ptr<Generation>> PublishGeneration(
    const std::shared_ptr<Env>& env, const std::string& dir,
    std::unique_ptr<LogFile> log, uint64_t log_end,
    const std::vector<LiveRecord>& records, uint64_t generation,
    const CarriedCounters& counters, const Generation* old, bool sync) {
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
  if (s.ok()) s = env->Rename(tmp_path, dir + "/" + kIndexFileName);
  if (!s.ok()) {
    env->Remove(tmp_path);
    return s;
  }
  // Nothing may come between the rename and this store: until it lands,
  // handles on the old index do not know to move.
  if (old != nullptr) StoreShared(old->index->header().superseded, 1);
  if (sync) env->SyncDir(dir);
  if (old != nullptr && old->log->id() != log->id()) {
    env->Remove(old->log->path());
  }
  auto gen = std::make_unique<Generation>();
  gen->index = std::move(*index);
  gen->log = std::move(log);
  return gen;
}

}  // namespace ucache::fcache_internal
