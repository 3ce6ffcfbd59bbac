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

// The first multiple of kRecordAlign at or after `pos` (one itself) where
// the next kRecordAlign bytes (fewer at the end) are not all zero, or the
// end of what `log` can read. Zeros are read a chunk at a time, and after a
// chunk of zeros a hole is stepped over unread (Env::NextData), so a forged
// sparse log of terabytes costs what its data regions cost, with one system
// call per chunk of zeros and none per unit; should the Env fail to tell,
// every byte is read.
uint64_t NextNonZero(const LogFile& log, uint64_t pos) {
  constexpr uint64_t kChunkBytes = 1 << 20;
  const uint64_t end = log.readable();
  while (pos < end) {
    const uint64_t n = std::min(kChunkBytes, end - pos);
    if (!AllZero(log.data() + pos, n)) {
      while (AllZero(log.data() + pos, std::min(kRecordAlign, end - pos))) {
        pos += kRecordAlign;
      }
      return pos;
    }
    pos += n;
    if (pos >= end) break;
    Result<uint64_t> data = log.NextData(pos);
    if (data.ok() && *data > pos) {
      pos = std::min(end, *data / kRecordAlign * kRecordAlign);
    }
  }
  return end;
}

bool Expired(const RecordHeader& h, int64_t now_ms) {
  return h.expires_ms != 0 && h.expires_ms <= now_ms;
}

LiveRecord LiveRecordOf(uint64_t tag, const RecordView& r) {
  return LiveRecord{tag, r.offset, r.size, r.header->value_len,
                    r.header->stored_len};
}

// Copies `records` (in log order) from the log bytes [0, limit) of `data`
// into the new log `to`, rewriting their locations. Records that fail their
// checksum now are dropped and counted.
Status CopyRecords(const uint8_t* data, uint64_t limit, LogFile& to,
                   std::vector<LiveRecord>* records, uint64_t* log_end,
                   uint64_t* corrupt, const CompactionPlan& plan) {
  uint64_t total = 0;
  for (const LiveRecord& r : *records) total += r.size;
  std::string chunk;
  chunk.reserve(kCopyChunkBytes);
  uint64_t chunk_start = kLogHeaderSize, done = 0;
  size_t kept = 0;  // the records copied, moved to the front in place
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
    if (!ParseRecord(data, limit, r.loc, &view) || !ChecksumMatches(view)) {
      ++*corrupt;
      continue;
    }
    r.loc = chunk_start + chunk.size();
    chunk.append(reinterpret_cast<const char*>(view.header), view.size);
    (*records)[kept++] = r;
    if (chunk.size() >= kCopyChunkBytes) {
      Status s = flush();
      if (!s.ok()) return s;
    }
  }
  Status s = flush();
  if (!s.ok()) return s;
  if (!to.ExtendReadable(chunk_start)) s = to.Remap();
  records->resize(kept);
  *log_end = chunk_start;
  return s;
}

// Writes `records` of the log bytes `data`/`limit` into a new log numbered
// `log_id` and publishes it. On failure the new log is removed again.
Result<std::unique_ptr<Generation>> CopyAndPublish(
    const std::shared_ptr<Env>& env, const std::string& dir, LockFile& lock,
    const uint8_t* data, uint64_t limit, uint64_t log_id,
    std::vector<LiveRecord> records, uint64_t previous,
    CarriedCounters counters, const Generation* old,
    const CompactionPlan& plan) {
  Result<std::unique_ptr<LogFile>> log = LogFile::Create(env, dir, log_id);
  if (!log.ok()) return log.status();
  uint64_t log_end = 0;
  Status s = CopyRecords(data, limit, **log, &records, &log_end,
                         &counters.corrupt_records, plan);
  const std::string new_log_path = (*log)->path();
  Result<std::unique_ptr<Generation>> gen =
      s.ok() ? PublishGeneration(env, dir, lock, std::move(*log), log_end,
                                 records, previous, counters, old, plan.sync)
             : Result<std::unique_ptr<Generation>>(s);
  if (!gen.ok() && !lock.Announced(log_id)) {
    env->Remove(new_log_path).IgnoreError();  // else the next open's cleanup
  }
  return gen;
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

// A slot of the old index, as compaction found it.
struct SlotRecord {
  uint64_t slot;
  LiveRecord record;  // sizes zero when unreadable
  enum State { kLive, kExpired, kUnreadable } state;
  std::string_view key;  // empty when unreadable
};

// A damaged index can name one key from several slots (and two keys may
// share a 64-bit tag). Of the slots of each such tag, only the newest record
// of each key (log order is write order) may live on, and none older than
// an unreadable record of the tag, which may have been any of them: carrying
// an older one into the new index, where it may win the earlier probe slot,
// would serve a version a write had replaced. Marks the losers unreadable.
void DropReplacedDuplicates(const std::vector<uint64_t>& dup_tags,
                            std::vector<SlotRecord>* slots) {
  if (dup_tags.empty()) return;
  std::unordered_map<uint64_t, std::vector<SlotRecord*>> groups;
  for (uint64_t tag : dup_tags) groups[tag];
  for (SlotRecord& s : *slots) {
    auto it = groups.find(s.record.tag);
    if (it != groups.end()) it->second.push_back(&s);
  }
  for (auto& [tag, group] : groups) {
    uint64_t unreadable_loc = 0;
    bool any_unreadable = false;
    for (const SlotRecord* s : group) {
      if (s->state == SlotRecord::kUnreadable) {
        any_unreadable = true;
        unreadable_loc = std::max(unreadable_loc, s->record.loc);
      }
    }
    for (SlotRecord* s : group) {
      if (s->state == SlotRecord::kUnreadable) continue;
      const uint64_t loc = s->record.loc;
      bool replaced = any_unreadable && loc < unreadable_loc;
      for (const SlotRecord* other : group) {
        // Two slots naming one record keep the first of them.
        if (other != s && other->state != SlotRecord::kUnreadable &&
            other->key == s->key &&
            (other->record.loc > loc ||
             (other->record.loc == loc && other->slot < s->slot))) {
          replaced = true;
        }
      }
      if (replaced) s->state = SlotRecord::kUnreadable;
    }
  }
}

// Which logs recovery may rebuild from, best first. The publication record
// names the current log, and the log an unfinished publication announced
// (which then holds, as of that publication, the newest version of every
// key it copied: writers settle the record before writing). Any other log
// is a leftover that may hold replaced or erased versions, so it is never
// used while the record names one. Without a record (a lock file created
// afresh, a store of an older format) there is nothing better than the
// newest log with an intact header.
std::vector<uint64_t> RecoveryCandidates(const LockFile& lock,
                                         std::vector<uint64_t> ids) {
  const Publication& p = lock.publication();
  const uint64_t announced = LoadShared(p.announced_log_id);
  const uint64_t committed = LoadShared(p.committed_log_id);
  if (announced == 0 && committed == 0) {
    std::sort(ids.rbegin(), ids.rend());
    return ids;
  }
  std::vector<uint64_t> named;
  for (uint64_t id : {announced, committed}) {
    if (id != 0 && std::find(ids.begin(), ids.end(), id) != ids.end() &&
        std::find(named.begin(), named.end(), id) == named.end()) {
      named.push_back(id);
    }
  }
  return named;
}

// Forgets, in `latest`, every key that a record from `pos` to the end of
// what `log` can read names. The bytes there are those of records never
// committed and of their remnants (a shorter record appended later over a
// longer one), reserved zeros, or, when the committed end that `pos` came
// from is behind (a power loss that kept the log but not the lock file's
// last page, or damage), committed records. So every alignment unit that is
// not zero is tried as a record's start, inside records too (a damaged
// header may claim a size that spans the records after it), and a record
// that parses counts whatever its checksum: forgetting a key too many only
// costs a miss. Every attempt to append starts at the committed end, so
// bytes that no record there covers are a remnant, after which no intact
// record can follow but one inside a value; an intact record after them
// means committed records with damage among them, which may have hidden an
// erase. Returns false then: nothing before `pos` can be trusted.
bool ForgetKeysNamedPast(
    const LogFile& log, uint64_t pos,
    std::unordered_map<std::string_view, RecordView>* latest) {
  const uint64_t end = log.readable();
  uint64_t covered = pos;  // the end of the furthest record parsed
  bool uncovered = false;  // non-zero bytes past every record parsed
  RecordView view;
  for (; (pos = NextNonZero(log, pos)) < end; pos += kRecordAlign) {
    if (!ParseRecord(log.data(), end, pos, &view)) {
      uncovered = uncovered || pos >= covered;
      continue;
    }
    if (uncovered && ChecksumMatches(view)) return false;
    latest->erase(view.key);
    covered = std::max(covered, pos + view.size);
  }
  return true;
}

// The records of `log` that a rebuilt index may name: the last put of each
// key not erased after it, read up to `committed_end` (0 when the lock file
// does not know it: then up to the first record that does not parse), but
// no key that a record past `committed_end` names. A
// record we cannot read may have replaced or erased any key, so every
// record before it (the horizon) is distrusted, as are records expired by
// `now_ms`; both are counted.
std::vector<LiveRecord> LatestRecords(const LogFile& log,
                                      uint64_t committed_end, int64_t now_ms,
                                      CarriedCounters* counters) {
  std::unordered_map<std::string_view, RecordView> latest;
  const uint64_t end = committed_end != 0
                           ? std::min(committed_end, log.readable())
                           : log.readable();
  uint64_t pos = kLogHeaderSize, horizon = 0;
  RecordView view;
  while (pos < end) {
    if (!ParseRecord(log.data(), end, pos, &view)) {
      // Space reserved for appends and never written holds zeros up to the
      // end of the file: a log of unknown end ends there. Anything else is
      // damage, and nothing after it can be stepped to. (Before a known
      // end, anything is: below.)
      if (committed_end == 0 && NextNonZero(log, pos) != log.readable()) {
        horizon = pos;
      }
      break;
    }
    pos += view.size;
    if (!ChecksumMatches(view)) {
      ++counters->corrupt_records;
      horizon = pos;
      continue;
    }
    if (view.header->kind == kRecordErase) {
      latest.erase(view.key);
    } else {
      latest[view.key] = view;
    }
  }
  // Committed records that do not parse, or missing at the end (a file cut
  // short), may have erased any key too.
  if (committed_end != 0 && pos < committed_end) horizon = pos;
  // Past the committed end lies at most the record of a writer that died
  // or failed before its commit, unless the lock file's words (a hint that
  // no checksum covers) are behind, when committed puts and erases lie
  // there too. Either way no version of a key written there can be vouched
  // for, not even an older one before the end: forgotten; and should
  // damage there hide what it wrote, nothing is trusted.
  if (committed_end != 0 && pos == committed_end &&
      !ForgetKeysNamedPast(log, pos, &latest)) {
    horizon = pos;
  }
  std::vector<LiveRecord> records;
  for (const auto& [key, r] : latest) {
    if (r.offset < horizon) {
      ++counters->corrupt_records;
    } else if (Expired(*r.header, now_ms)) {
      ++counters->expired_dropped;
    } else {
      records.push_back(
          LiveRecordOf(TagOf(XXH3_64bits(key.data(), key.size())), r));
    }
  }
  // In log order, which keeps write order for eviction.
  std::sort(
      records.begin(), records.end(),
      [](const LiveRecord& a, const LiveRecord& b) { return a.loc < b.loc; });
  return records;
}

}  // namespace

Result<std::unique_ptr<Generation>> Compact(const std::shared_ptr<Env>& env,
                                            const std::string& dir,
                                            LockFile& lock,
                                            const Generation& old,
                                            const CompactionPlan& plan) {
  const IndexFile& index = *old.index;
  CarriedCounters counters = CountersOf(index.header());
  ++counters.compactions;

  // live_slots is a hint from the file; no more slots than exist can be live.
  std::vector<SlotRecord> slots;
  slots.reserve(
      std::min(LoadShared(index.header().live_slots), index.capacity()));
  std::vector<uint64_t> dup_tags;
  for (uint64_t i = 0; i < index.capacity(); ++i) {
    const uint64_t tag = LoadShared(index.slot(i).tag);
    if (tag == kEmptyTag || tag == kTombstoneTag) continue;
    slots.push_back(SlotRecord{i,
                               {tag, LoadShared(index.slot(i).loc), 0, 0, 0},
                               SlotRecord::kUnreadable,
                               {}});
    // The first slot of the tag's probe chain is this one, unless another
    // slot names the tag too, or a damaged index put this one where no
    // probe from the tag's home reaches (beyond an empty slot). The walk
    // from the home slot is as short as a lookup's, over neighbouring slots.
    const int64_t first = index.Find(tag, [](uint64_t) { return true; });
    if (first < 0 || static_cast<uint64_t>(first) != i) dup_tags.push_back(tag);
  }
  const uint64_t limit = old.ReadLimit();
  constexpr size_t kPrefetchAhead = 16;
  for (size_t i = 0; i < slots.size(); ++i) {
    // Slots name records all over the log: ask for the header of a record a
    // few slots ahead, so that the cache misses overlap.
    if (i + kPrefetchAhead < slots.size() &&
        slots[i + kPrefetchAhead].record.loc < limit) {
      __builtin_prefetch(old.log->data() +
                         slots[i + kPrefetchAhead].record.loc);
    }
    SlotRecord& slot = slots[i];
    RecordView view;
    if (old.Parse(slot.record.loc, &view) && view.header->kind == kRecordPut &&
        TagOf(XXH3_64bits(view.key.data(), view.key.size())) ==
            slot.record.tag) {
      slot.record = LiveRecordOf(slot.record.tag, view);
      slot.key = view.key;
      slot.state = Expired(*view.header, plan.now_ms) ? SlotRecord::kExpired
                                                      : SlotRecord::kLive;
    }
  }
  DropReplacedDuplicates(dup_tags, &slots);
  std::vector<LiveRecord> records;
  records.reserve(slots.size());
  for (const SlotRecord& slot : slots) {
    if (slot.state == SlotRecord::kUnreadable) {
      ++counters.corrupt_records;
      continue;
    }
    if (slot.state == SlotRecord::kExpired) {
      ++counters.expired_dropped;
      continue;
    }
    records.push_back(slot.record);
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

  if (!plan.copy_log) {
    // Over the log this handle has open (not a file opened again by its
    // name, which anyone may have replaced).
    return PublishGeneration(env, dir, lock, old.log,
                             LoadShared(index.header().log_end), records,
                             index.generation(), counters, &old, plan.sync);
  }
  return CopyAndPublish(env, dir, lock, old.log->data(), limit,
                        old.log->id() + 1, std::move(records),
                        index.generation(), counters, &old, plan);
}

Result<std::unique_ptr<Generation>> PublishEmpty(
    const std::shared_ptr<Env>& env, const std::string& dir, LockFile& lock,
    uint64_t log_id, uint64_t previous, const CarriedCounters& counters,
    const Generation* old, bool sync) {
  Result<std::unique_ptr<LogFile>> log = LogFile::Create(env, dir, log_id);
  if (!log.ok()) return log.status();
  const std::string path = (*log)->path();
  Result<std::unique_ptr<Generation>> gen =
      PublishGeneration(env, dir, lock, std::move(*log), kLogHeaderSize, {},
                        previous, counters, old, sync);
  if (!gen.ok() && !lock.Announced(log_id)) env->Remove(path).IgnoreError();
  return gen;
}

Result<std::unique_ptr<Generation>> Recover(const std::shared_ptr<Env>& env,
                                            const std::string& dir,
                                            LockFile& lock, int64_t now_ms) {
  Result<std::vector<std::string>> names = env->ListDir(dir);
  if (!names.ok()) return names.status();
  std::vector<uint64_t> ids;
  for (const std::string& name : *names) {
    uint64_t id;
    if (ParseLogFileName(name, &id)) ids.push_back(id);
  }
  // A name no log has had, so that no mapping of an older file is reused.
  const uint64_t next_id =
      ids.empty() ? 1 : *std::max_element(ids.begin(), ids.end()) + 1;
  // The damaged index, if there is one, is told it has been replaced once
  // the new one is in place, so that handles still on it move.
  Result<FileHandle> stale = FileHandle::Open(
      env.get(), dir + "/" + kIndexFileName, OpenMode::kReadWrite);
  auto publish = [&](Result<std::unique_ptr<Generation>> gen) {
    if (gen.ok() && stale.ok()) MarkSuperseded(env, stale->fd());
    return gen;
  };
  // An erase that found no room for its record left the log claiming the
  // erased value: nothing in it can be trusted to be the latest version.
  const bool erases_missing =
      LoadShared(lock.publication().unlogged_erases) != 0;
  for (uint64_t id : erases_missing ? std::vector<uint64_t>{}
                                    : RecoveryCandidates(lock, ids)) {
    Result<std::unique_ptr<LogFile>> log =
        LogFile::Open(env, dir, id, /*writable=*/false);
    if (log.status().code() == Status::Code::kVersionTooNew) {
      // Never rebuild (and so discard) a store a newer ucache wrote.
      return log.status();
    }
    if (!log.ok()) continue;
    CarriedCounters counters;
    // Up to the end its last writer committed, when the lock file says:
    // beyond it lies at most a record whose writer died (or failed) before
    // the commit, which no reader saw and a later write may have replaced.
    std::vector<LiveRecord> records =
        LatestRecords(**log, lock.LogEnd(id), now_ms, &counters);
    // Into a new log, never this one: views of other handles may point
    // anywhere in it, and appends past a damaged record would overwrite
    // bytes they hold.
    CompactionPlan plan;
    Result<std::unique_ptr<Generation>> gen = publish(CopyAndPublish(
        env, dir, lock, (*log)->data(), (*log)->readable(), next_id,
        std::move(records), next_id - 1, counters, nullptr, plan));
    if (gen.ok()) env->Remove((*log)->path()).IgnoreError();
    return gen;
  }
  return publish(
      PublishEmpty(env, dir, lock, next_id, next_id - 1, {}, nullptr, false));
}

}  // namespace ucache::fcache_internal
