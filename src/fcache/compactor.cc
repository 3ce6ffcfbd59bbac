#include "src/fcache/compactor.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <unordered_map>

namespace ucache::fcache_internal {
namespace {

// Copied records are gathered into writes of about this size: small
// enough that the kernel copies them out of the CPU's L2 cache, large
// enough that the system calls cost nothing next to the copying.
constexpr size_t kCopyChunkBytes = 256 << 10;

bool AllZero(const uint8_t* p, uint64_t n) {
  return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

// True when `log` holds only zeros from `pos` to the end of what it can
// read. Holes are zeros and are stepped over unread (Env::NextData), so a
// forged sparse log of terabytes costs what its data regions cost; should
// the Env fail to tell, every byte is read.
bool ZerosToEnd(const LogFile& log, uint64_t pos) {
  constexpr uint64_t kChunkBytes = 1 << 20;
  const uint64_t end = log.readable();
  while (pos < end) {
    Result<uint64_t> data = log.NextData(pos);
    if (data.ok()) pos = std::max(pos, *data);
    if (pos >= end) break;
    const uint64_t n = std::min(kChunkBytes, end - pos);
    if (!AllZero(log.data() + pos, n)) return false;
    pos += n;
  }
  return true;
}

bool Expired(const RecordHeader& h, int64_t now_ms) {
  return h.expires_ms != 0 && h.expires_ms <= now_ms;
}

LiveRecord LiveRecordOf(uint64_t tag, const RecordView& r) {
  return LiveRecord{tag, r.offset, r.size, r.header->value_len,
                    r.header->stored_len};
}

// Copies `records` (in log order) from `from` into the new log `to`,
// rewriting their locations. Records that fail their checksum now are
// dropped and counted.
Status CopyRecords(const Generation& from, LogFile& to,
                   std::vector<LiveRecord>* records, uint64_t* log_end,
                   uint64_t* corrupt, const CompactionPlan& plan) {
  uint64_t total = 0;
  for (const LiveRecord& r : *records) total += r.size;
  std::string chunk;
  chunk.reserve(kCopyChunkBytes);
  uint64_t chunk_start = kLogHeaderSize, done = 0;
  std::vector<LiveRecord> kept;
  kept.reserve(records->size());
  auto flush = [&]() -> Status {
    Status s = to.Write(chunk_start, chunk);
    chunk_start += chunk.size();
    chunk.clear();
    if (plan.progress) plan.progress(done, total);
    return s;
  };
  for (LiveRecord r : *records) {
    RecordView view;
    done += r.size;  // dropped records count as done, too
    if (!from.Parse(r.loc, &view) || !ChecksumMatches(view)) {
      ++*corrupt;
      continue;
    }
    r.loc = chunk_start + chunk.size();
    chunk.append(reinterpret_cast<const char*>(view.header), view.size);
    kept.push_back(r);
    if (chunk.size() >= kCopyChunkBytes) {
      Status s = flush();
      if (!s.ok()) return s;
    }
  }
  Status s = flush();
  if (!s.ok()) return s;
  if (!to.ExtendReadable(chunk_start)) s = to.Remap();
  *records = std::move(kept);
  *log_end = chunk_start;
  return s;
}

// Sets `superseded` in the index file open as `fd`, whatever else in its
// header is damaged, if the file is long enough to have the field.
void MarkSuperseded(const std::shared_ptr<Env>& env, int fd) {
  Result<FileInfo> info = env->Stat(fd);
  if (!info.ok() || info->size < kIndexHeaderSize) return;
  // A damaged file may have a hole there: a store into it on a full disk
  // would be a SIGBUS.
  if (!env->Allocate(fd, 0, kIndexHeaderSize).ok()) return;
  Result<std::shared_ptr<Mapping>> map =
      Mapping::Create(env, fd, kIndexHeaderSize, /*writable=*/true);
  if (!map.ok()) return;
  StoreShared(reinterpret_cast<IndexHeader*>((*map)->data())->superseded, 1);
}

}  // namespace

Result<std::unique_ptr<Generation>> Compact(const std::shared_ptr<Env>& env,
                                            const std::string& dir,
                                            const Generation& old,
                                            const CompactionPlan& plan) {
  const IndexFile& index = *old.index;
  CarriedCounters counters = CountersOf(index.header());
  ++counters.compactions;

  std::vector<Slot> slots;
  // live_slots is a hint from the file; no more slots than exist can be live.
  slots.reserve(
      std::min(LoadShared(index.header().live_slots), index.capacity()));
  index.ForEachLiveSlot([&](uint64_t tag, uint64_t loc) {
    slots.push_back(Slot{tag, loc});
  });
  std::vector<LiveRecord> records;
  records.reserve(slots.size());
  const uint64_t limit = old.ReadLimit();
  constexpr size_t kPrefetchAhead = 16;
  for (size_t i = 0; i < slots.size(); ++i) {
    // Slots name records all over the log: ask for the header of a record a
    // few slots ahead, so that the cache misses overlap.
    if (i + kPrefetchAhead < slots.size() &&
        slots[i + kPrefetchAhead].loc < limit) {
      __builtin_prefetch(old.log->data() + slots[i + kPrefetchAhead].loc);
    }
    const Slot& slot = slots[i];
    RecordView view;
    if (!old.Parse(slot.loc, &view) || view.header->kind != kRecordPut ||
        TagOf(XXH3_64bits(view.key.data(), view.key.size())) != slot.tag) {
      ++counters.corrupt_records;
    } else if (Expired(*view.header, plan.now_ms)) {
      ++counters.expired_dropped;
    } else {
      records.push_back(LiveRecordOf(slot.tag, view));
    }
  }
  if (plan.copy_log) {
    // Copied in log order, which keeps write order for eviction.
    std::sort(
        records.begin(), records.end(),
        [](const LiveRecord& a, const LiveRecord& b) { return a.loc < b.loc; });
  }

  if (plan.live_byte_budget != 0) {
    // Keep the newest records that fit: eviction is oldest-written first.
    uint64_t kept_bytes = 0;
    size_t first_kept = records.size();
    while (first_kept > 0 &&
           kept_bytes + records[first_kept - 1].size <= plan.live_byte_budget) {
      kept_bytes += records[--first_kept].size;
    }
    counters.evictions += first_kept;
    records.erase(records.begin(), records.begin() + first_kept);
  }

  const uint64_t generation = index.generation() + 1;
  if (!plan.copy_log) {
    Result<std::unique_ptr<LogFile>> log =
        LogFile::Open(env, dir, old.log->id(), /*writable=*/true);
    if (!log.ok()) return log.status();
    return PublishGeneration(env, dir, std::move(*log),
                             LoadShared(index.header().log_end), records,
                             generation, counters, &old, plan.sync);
  }

  Result<std::unique_ptr<LogFile>> log =
      LogFile::Create(env, dir, old.log->id() + 1);
  if (!log.ok()) return log.status();
  uint64_t log_end = 0;
  Status s = CopyRecords(old, **log, &records, &log_end,
                         &counters.corrupt_records, plan);
  const std::string new_log_path = (*log)->path();
  Result<std::unique_ptr<Generation>> gen =
      s.ok() ? PublishGeneration(env, dir, std::move(*log), log_end, records,
                                 generation, counters, &old, plan.sync)
             : Result<std::unique_ptr<Generation>>(s);
  if (!gen.ok()) env->Remove(new_log_path);
  return gen;
}

Result<std::unique_ptr<Generation>> PublishEmpty(
    const std::shared_ptr<Env>& env, const std::string& dir, uint64_t log_id,
    uint64_t generation, const CarriedCounters& counters, const Generation* old,
    bool sync) {
  Result<std::unique_ptr<LogFile>> log = LogFile::Create(env, dir, log_id);
  if (!log.ok()) return log.status();
  const std::string path = (*log)->path();
  Result<std::unique_ptr<Generation>> gen =
      PublishGeneration(env, dir, std::move(*log), kLogHeaderSize, {},
                        generation, counters, old, sync);
  if (!gen.ok()) env->Remove(path);
  return gen;
}

Result<std::unique_ptr<Generation>> Recover(const std::shared_ptr<Env>& env,
                                            const std::string& dir,
                                            int64_t now_ms) {
  Result<std::vector<std::string>> names = env->ListDir(dir);
  if (!names.ok()) return names.status();
  std::vector<uint64_t> ids;
  for (const std::string& name : *names) {
    uint64_t id;
    if (ParseLogFileName(name, &id)) ids.push_back(id);
  }
  std::sort(ids.rbegin(), ids.rend());
  const uint64_t next_id = ids.empty() ? 1 : ids.front() + 1;
  // The damaged index, if there is one, is told it has been replaced once
  // the new one is in place, so that handles still on it move.
  Result<FileHandle> stale = FileHandle::Open(
      env.get(), dir + "/" + kIndexFileName, OpenMode::kReadWrite);
  auto publish = [&](Result<std::unique_ptr<Generation>> gen) {
    if (gen.ok() && stale.ok()) MarkSuperseded(env, stale->fd());
    return gen;
  };
  for (uint64_t id : ids) {
    Result<std::unique_ptr<LogFile>> log =
        LogFile::Open(env, dir, id, /*writable=*/true);
    if (log.status().code() == Status::Code::kVersionTooNew) {
      // Never rebuild (and so discard) a store a newer ucache wrote.
      return log.status();
    }
    if (!log.ok()) continue;
    const LogFile& l = **log;
    // Later records of a key replace earlier ones; erases remove them. A
    // record we cannot read may have replaced or erased any key, so every
    // record before it (the horizon) is distrusted: serving one could hand
    // out a value that was overwritten.
    std::unordered_map<std::string_view, RecordView> latest;
    uint64_t pos = kLogHeaderSize, horizon = 0;
    CarriedCounters counters;
    RecordView view;
    while (pos < l.readable()) {
      if (!ParseRecord(l.data(), l.readable(), pos, &view)) {
        // Space reserved for appends and never written holds zeros up to
        // the end of the file: the log ends there. Anything else is damage,
        // and nothing after it can be stepped to.
        if (!ZerosToEnd(l, pos)) horizon = pos;
        break;
      }
      pos += view.size;
      if (!ChecksumMatches(view)) {
        ++counters.corrupt_records;
        horizon = pos;
        continue;
      }
      if (view.header->kind == kRecordErase) {
        latest.erase(view.key);
      } else {
        latest[view.key] = view;
      }
    }
    std::vector<LiveRecord> records;
    for (const auto& [key, r] : latest) {
      if (r.offset < horizon) {
        ++counters.corrupt_records;
        continue;
      }
      if (Expired(*r.header, now_ms)) {
        ++counters.expired_dropped;
        continue;
      }
      records.push_back(
          LiveRecordOf(TagOf(XXH3_64bits(key.data(), key.size())), r));
    }
    return publish(PublishGeneration(env, dir, std::move(*log), pos, records,
                                     /*generation=*/next_id, counters, nullptr,
                                     /*sync=*/false));
  }
  return publish(PublishEmpty(env, dir, next_id, /*generation=*/next_id, {},
                              nullptr, /*sync=*/false));
}

}  // namespace ucache::fcache_internal
