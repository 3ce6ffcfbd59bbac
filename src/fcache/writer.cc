#include "src/fcache/writer.h"

#include <algorithm>
#include <limits>

namespace ucache::fcache_internal {
namespace {

// No checksum covers log_end: a power loss or a damaged header can put it
// past the file (the caller has caught up with the file's size), into the
// log's header or off the record alignment. Appending there would fail
// forever (EFBIG), leave a sparse hole or overwrite the header.
bool LogEndUsable(const Generation& gen, uint64_t log_end) {
  return log_end <= gen.log->readable() && log_end >= kLogHeaderSize &&
         log_end % kRecordAlign == 0;
}

// Large records are written with LogFile::Append rather than reserved with
// zeros and copied through the mapping: an 8 MB put spent 37% of its time
// writing the zeros and 24% copying (perf, BM_PutDoubles).
bool WrittenWhole(uint64_t size) { return size >= kLargeRecordBytes; }

// Step 1 for a large record: its head, the value kept apart, then the
// padding.
Status AppendWhole(const Generation& gen, uint64_t offset,
                   const EncodedRecord& record) {
  static constexpr char kZeros[kRecordAlign] = {};
  const uint64_t value_at = offset + record.head.size();
  const uint64_t pad_at = value_at + record.value.size();
  Status s = gen.log->Append(offset, record.head);
  if (s.ok() && !record.value.empty())
    s = gen.log->Append(value_at, record.value);
  if (s.ok() && pad_at < offset + record.size()) {
    s = gen.log->Append(
        pad_at, std::string_view(kZeros, offset + record.size() - pad_at));
  }
  return s;
}

// Section 8: whether the record fits max_bytes as the store stands, and if
// not, the compaction that makes room (or kNoSpace when none can).
Status CheckSizeBound(const Generation& gen, uint64_t log_end, uint64_t size,
                      bool evicted, const FileCacheOptions& options,
                      const std::string& dir, AppendPrep* prep) {
  if (options.max_bytes == 0 ||
      log_end + size + gen.index->file_bytes() <= options.max_bytes) {
    return Status::OK();
  }
  const IndexHeader& h = gen.index->header();
  const uint64_t target = options.max_bytes / 4 * 3;
  // The rebuilt index may be larger than this one (it is sized for a lower
  // load), so budget for the larger of the two. live_slots is a hint from
  // the file: bound it by the slots that exist before sizing anything by it.
  const uint64_t live =
      std::min(LoadShared(h.live_slots), gen.index->capacity());
  const uint64_t index_bytes =
      std::max(gen.index->file_bytes(), IndexFileBytes(CapacityFor(live)));
  const uint64_t overhead = kLogHeaderSize + index_bytes + size;
  if (evicted || overhead >= target) {
    const std::string what = "a record of " + std::to_string(size) +
                             " bytes does not fit in max_bytes=" +
                             std::to_string(options.max_bytes) + " of " + dir;
    // Too large even for an empty store: a refusal of this value, not a
    // full store (a selector keeps writing other values).
    const uint64_t alone =
        kLogHeaderSize + IndexFileBytes(CapacityFor(1)) + size;
    if (alone >= target) return Status::InvalidArgument(what);
    return Status::NoSpace(what);
  }
  prep->kind = AppendPrep::kRewrite;
  prep->plan.live_byte_budget = target - overhead;
  return Status::OK();
}

// Section 3: an index past its load grows (or sheds tombstones) first.
void CheckLoad(const Generation& gen, uint64_t log_end, AppendPrep* prep) {
  const IndexHeader& h = gen.index->header();
  const uint64_t used = LoadShared(h.live_slots) + LoadShared(h.tombstones);
  if (static_cast<double>(used + 1) <=
      kMaxLoad * static_cast<double>(gen.index->capacity())) {
    return;
  }
  // Growing the index alone is cheap; copy the log too when it is mostly
  // dead anyway.
  prep->kind = AppendPrep::kRewrite;
  prep->plan.copy_log = LoadShared(h.dead_bytes) * 2 > log_end;
}

// Finds the key's slot; a slot whose record cannot be read is reused.
SlotLookup FindSlot(const Generation& gen, std::string_view key, uint64_t tag) {
  SlotLookup l;
  l.slot = gen.index->Find(
      tag,
      [&](uint64_t loc) {
        RecordView r;
        if (!gen.Parse(loc, &r)) return true;
        if (r.key != key) return false;
        l.old_size = r.size;
        l.old_raw = r.header->value_len;
        l.old_stored = r.header->stored_len;
        l.old_known = true;
        return true;
      },
      &l.free_slot);
  return l;
}

// Step 1's reservation: room below max_bytes for the log, leaving room for
// an index rebuild, which may double the index beside it.
uint64_t MaxLogSize(const Generation& gen, const FileCacheOptions& options) {
  if (options.max_bytes == 0) return std::numeric_limits<uint64_t>::max();
  const uint64_t index_room = 2 * gen.index->file_bytes();
  return options.max_bytes > index_room ? options.max_bytes - index_room : 0;
}

// Step 3: the slot, then the counters (hints, updated around the stores).
void UpdateSlot(const Generation& gen, uint64_t tag,
                const EncodedRecord& record, bool erase,
                const AppendPrep& prep) {
  IndexHeader& h = gen.index->header();
  const SlotLookup& l = prep.lookup;
  const uint64_t size = record.size();
  if (l.old_known) {
    AddShared(h.dead_bytes, static_cast<int64_t>(l.old_size));
    AddShared(h.live_bytes, -static_cast<int64_t>(l.old_size));
    AddShared(h.raw_value_bytes, -static_cast<int64_t>(l.old_raw));
    AddShared(h.stored_value_bytes, -static_cast<int64_t>(l.old_stored));
  }
  if (erase) {
    // The erase record exists only for log scans; it is dead at once.
    if (l.slot >= 0) {
      StoreShared(gen.index->slot(l.slot).tag, kTombstoneTag);
      AddShared(h.live_slots, -1);
      AddShared(h.tombstones, 1);
    }
    AddShared(h.dead_bytes, static_cast<int64_t>(size));
    return;
  }
  const RecordHeader* rh = &record.header();
  if (l.slot >= 0) {
    StoreShared(gen.index->slot(l.slot).loc, prep.log_end);
  } else {
    if (LoadShared(gen.index->slot(l.free_slot).tag) == kTombstoneTag) {
      AddShared(h.tombstones, -1);
    }
    gen.index->Fill(static_cast<uint64_t>(l.free_slot), tag, prep.log_end);
    AddShared(h.live_slots, 1);
  }
  AddShared(h.live_bytes, static_cast<int64_t>(size));
  AddShared(h.raw_value_bytes, rh->value_len);
  AddShared(h.stored_value_bytes, rh->stored_len);
}

// A damaged index can name one key from two slots. Readers serve the first,
// which this write replaced or erased: a later one would surface an older
// version, so it goes too.
void RetireDuplicates(const Generation& gen, std::string_view key, uint64_t tag,
                      const AppendPrep& prep) {
  IndexHeader& h = gen.index->header();
  const auto same_key = [&](uint64_t loc) {
    RecordView r;  // (the record just written sits at log_end)
    return loc != prep.log_end && gen.Parse(loc, &r) && r.key == key;
  };
  for (int64_t dup = gen.index->FindAfter(tag, prep.lookup.slot, same_key);
       dup >= 0; dup = gen.index->FindAfter(tag, dup, same_key)) {
    StoreShared(gen.index->slot(dup).tag, kTombstoneTag);
    AddShared(h.live_slots, -1);
    AddShared(h.tombstones, 1);
  }
}

}  // namespace

Status EraseWithoutRecord(Generation& gen, LockFile& lock, std::string_view key,
                          uint64_t tag, bool sync, bool* replaced) {
  AppendPrep prep;
  prep.lookup = FindSlot(gen, key, tag);
  *replaced = prep.lookup.slot >= 0;
  // Counted even when the index lacks the key: the log may hold a record of
  // it that no slot names (see PrepareAppend). Counted first, and with
  // `sync` on disk first: a crash or a power loss between the two leaves a
  // recovery that forgets too much, never one that forgets too little.
  AddShared(lock.publication().unlogged_erases, 1);
  Status synced = sync ? lock.Sync() : Status::OK();
  if (*replaced) {
    // Erased all the same when the count may not be on disk: the erase
    // must take effect for every process now; only its durability failed.
    prep.log_end = LoadShared(gen.index->header().log_end);
    UpdateSlot(gen, tag, {}, /*erase=*/true, prep);
    RetireDuplicates(gen, key, tag, prep);
    // Not forced to disk after a failed count: a tombstone on disk without
    // the count could let a recovery after a power loss bring the value
    // back.
    if (sync && synced.ok()) synced = gen.index->Sync();
  }
  if (!synced.ok()) {
    return synced.WithContext("syncing an erase made in place in " +
                              gen.log->path());
  }
  return Status::OK();
}

Result<AppendPrep> PrepareAppend(Generation& gen, std::string_view key,
                                 uint64_t tag, uint64_t size, bool erase,
                                 bool evicted, const FileCacheOptions& options,
                                 const std::string& dir) {
  AppendPrep prep;
  prep.log_end = LoadShared(gen.index->header().log_end);
  if (!LogEndUsable(gen, prep.log_end)) {
    // Copy the readable records into a new generation first; it gets a true
    // log_end.
    prep.kind = AppendPrep::kRewrite;
    return prep;
  }
  Status s =
      CheckSizeBound(gen, prep.log_end, size, evicted, options, dir, &prep);
  if (!s.ok()) return s;
  if (prep.kind == AppendPrep::kReady) CheckLoad(gen, prep.log_end, &prep);
  if (prep.kind != AppendPrep::kReady) return prep;

  // An erase of a key the index lacks is logged all the same: the log may
  // hold a record of the key that no slot names (its writer died after the
  // append, before the commit), which recovery would otherwise bring back.
  prep.lookup = FindSlot(gen, key, tag);
  if (!erase && prep.lookup.slot < 0 && prep.lookup.free_slot < 0) {
    // Only a damaged counter lets the table fill up; rebuild it.
    prep.kind = AppendPrep::kRewrite;
    prep.plan.copy_log = false;
    return prep;
  }
  // A record written whole needs only the mapping to cover it.
  Result<bool> reserved =
      WrittenWhole(size)
          ? Result<bool>(prep.log_end + size <= gen.log->mapped())
          : gen.log->Reserve(prep.log_end, size, MaxLogSize(gen, options));
  if (!reserved.ok()) {
    return reserved.status().WithContext("appending to " + dir);
  }
  if (!*reserved) {
    prep.kind = AppendPrep::kRemap;
    prep.remap_to = prep.log_end + size;
  }
  return prep;
}

Status Commit(Generation& gen, LockFile& lock, std::string_view key,
              uint64_t tag, const EncodedRecord& record, bool erase,
              const AppendPrep& prep, bool sync, bool* replaced) {
  if (WrittenWhole(record.size())) {
    Status s = AppendWhole(gen, prep.log_end, record);
    if (!s.ok()) return s.WithContext("appending to " + gen.log->path());
  } else {
    gen.log->Store(prep.log_end, record.head);
  }
  if (sync) {
    Status s = gen.log->Sync();
    if (!s.ok()) return s.WithContext("appending to " + gen.log->path());
  }
  const uint64_t end = prep.log_end + record.size();
  StoreShared(gen.index->header().log_end, end);
  // Before the slot: a record no reader could see yet is the most a
  // recovery that goes by the lock file can miss (doc/format.md section 5).
  lock.NoteLogEnd(gen.log->id(), end);
  UpdateSlot(gen, tag, record, erase, prep);
  if (prep.lookup.slot >= 0) RetireDuplicates(gen, key, tag, prep);
  *replaced = prep.lookup.slot >= 0;
  if (sync) {
    Status s = gen.index->Sync();
    if (s.ok()) s = lock.Sync();
    if (!s.ok())
      return s.WithContext("syncing the index and lock file of " +
                           gen.log->path());
  }
  return Status::OK();
}

}  // namespace ucache::fcache_internal
