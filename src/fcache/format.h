// The on-disk format of a FileCache store, byte by byte. doc/format.md is
// the prose twin of this header; change both together, and never renumber a
// persisted constant. All integers are little-endian (the only byte order
// this library builds for; see the static_assert below).

#ifndef UCACHE_SRC_FCACHE_FORMAT_H_
#define UCACHE_SRC_FCACHE_FORMAT_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>

#include "ucache/status.h"

namespace ucache::fcache_internal {

static_assert(std::endian::native == std::endian::little,
              "the store format is little-endian");

// File names inside a store directory.
inline constexpr char kLockFileName[] = "lock";
inline constexpr char kIndexFileName[] = "index";
inline constexpr char kIndexTempName[] = "index.tmp";
inline constexpr char kLogPrefix[] = "log.";  // followed by 16 hex digits

std::string LogFileName(uint64_t log_id);
// True and sets *log_id when `name` is a log file name.
bool ParseLogFileName(const std::string& name, uint64_t* log_id);

// Version 2 added the lock file's mutex (writers of version 1 serialized on
// a flock of an empty lock file) and logs that end in space reserved for
// appends. Version 3 added the lock file's publication record and change
// counters, and the protocol around them (doc/format.md, sections 5 to 7).
// Version 4 added the lock file's committed log end, which writers of
// version 3 would leave behind (recovery would then drop their commits).
// Older stores are read as they are and rewritten in this version by the
// first writable open.
inline constexpr uint32_t kFormatVersion = 4;

// Atomic access to the words of a shared mapping that change in place
// (index header and slots, the lock file's publication record).
inline uint64_t LoadShared(const uint64_t& word) {
  return __atomic_load_n(&word, __ATOMIC_ACQUIRE);
}
inline void StoreShared(uint64_t& word, uint64_t value) {
  __atomic_store_n(&word, value, __ATOMIC_RELEASE);
}
inline void AddShared(uint64_t& word, int64_t delta) {
  __atomic_fetch_add(&word, static_cast<uint64_t>(delta), __ATOMIC_RELAXED);
}

// Every file opens with a 64-byte prelude whose layout no future version may
// change: magic, version, and a checksum over the prelude before it, so that
// a newer store is recognised (and refused) rather than misread.
inline constexpr uint64_t kIndexMagic = 0x5844494843414355ULL;  // "UCACHIDX"
inline constexpr uint64_t kLogMagic = 0x474F4C4843414355ULL;    // "UCACHLOG"
inline constexpr uint64_t kLockMagic = 0x4B434C4843414355ULL;   // "UCACHLCK"

struct FilePrelude {
  uint64_t magic;
  uint32_t version;
  uint32_t header_size;  // bytes before the first slot / record
  uint64_t id;           // index: generation; log: log id
  uint64_t created_ms;
  uint64_t capacity;  // index: slot count (power of two); log: 0
  uint64_t log_id;    // index: the log it points into; log: same as id
  uint64_t reserved;
  uint64_t checksum;  // XXH3-64 of the 56 bytes above
};
static_assert(sizeof(FilePrelude) == 64);

// Fills in the prelude's magic, version and checksum.
void SealPrelude(uint64_t magic, FilePrelude* prelude);
// OK when `prelude` is an intact prelude of this version with `magic`;
// VersionTooNew when it is intact but newer; Corruption otherwise. `what`
// names the file in the message.
Status CheckPrelude(const FilePrelude& prelude, uint64_t magic,
                    const std::string& what);

// The index header: the prelude, then counters that change in place. The
// counters are updated with atomic operations through the shared mapping;
// they are hints for stats and triggers, recomputed by every compaction, and
// never trusted to bound a read (except log_end, see below).
struct IndexHeader {
  FilePrelude prelude;
  // Nonzero once a newer index has replaced this one; every handle checks it
  // on every call and moves to the new "index" file.
  uint64_t superseded;
  // End of the committed log: records wholly below it are complete. Appends
  // happen beyond it and become visible when it moves. Readers additionally
  // bound every read by the log's size when they mapped it.
  uint64_t log_end;
  uint64_t live_slots;  // slots naming a live record
  uint64_t tombstones;  // erased slots not yet reclaimed
  uint64_t live_bytes;  // log bytes of live records
  uint64_t raw_value_bytes;
  uint64_t stored_value_bytes;
  uint64_t dead_bytes;  // log bytes of replaced, erased or orphaned records
  uint64_t evictions;   // cumulative, carried across generations
  uint64_t expired_dropped;
  uint64_t corrupt_records;
  uint64_t compactions;
};
inline constexpr uint32_t kIndexHeaderSize = 4096;
static_assert(sizeof(IndexHeader) <= kIndexHeaderSize);

// One slot of the open-addressing hash table (linear probing).
struct Slot {
  uint64_t tag;  // kEmptyTag, kTombstoneTag, or TagOf(XXH3-64(key))
  uint64_t loc;  // offset of the record in the log
};
static_assert(sizeof(Slot) == 16);
inline constexpr uint64_t kEmptyTag = 0;
inline constexpr uint64_t kTombstoneTag = 1;
inline constexpr uint64_t TagOf(uint64_t key_hash) {
  return key_hash < 2 ? key_hash + 2 : key_hash;
}
inline constexpr uint64_t kMinCapacity = 1024;
// Grow (or rehash) the index once live + tombstone slots pass this share.
inline constexpr double kMaxLoad = 0.7;
// After a rebuild, live slots fill at most this share of the table.
inline constexpr double kTargetLoad = 0.35;

// The capacity a rebuilt index gets for `live` records.
inline constexpr uint64_t CapacityFor(uint64_t live) {
  uint64_t capacity = kMinCapacity;
  while (static_cast<double>(live) >
         static_cast<double>(capacity) * kTargetLoad) {
    capacity *= 2;
  }
  return capacity;
}

inline constexpr uint64_t IndexFileBytes(uint64_t capacity) {
  return kIndexHeaderSize + capacity * sizeof(Slot);
}

// The lock file: the prelude, then the writers' mutex, a robust,
// process-shared pthread_mutex_t in the C library's own layout, then zeros,
// but for the change counter. Only a handle that holds the file's flock
// exclusively (the store's sole user) writes the prelude or initializes the
// mutex; see lock_file.h.
inline constexpr uint32_t kLockFileSize = 4096;
inline constexpr uint32_t kLockMutexOffset = 64;
inline constexpr uint32_t kLockMutexBytes = 64;
// A u64 on a cache line of its own, added to by writers (under the mutex)
// after each commit that replaced or removed a version of some key; never
// reset (doc/format.md section 5).
inline constexpr uint32_t kLockChangesOffset = 192;
// Another, added to after every commit of any write (new keys' puts too),
// on a line of its own so that puts do not slow down readers of the change
// counter.
inline constexpr uint32_t kLockWritesOffset = 256;
// On the write counter's line, which every commit stores into anyway: the
// end of the committed records of one log, and that log's id. Stored by
// writers after each commit, and by publishers for the log they publish;
// recovery scans that log no further (doc/format.md section 7), so that a
// record its writer appended but never committed (killed before the
// commit, or failed on the way) cannot come back as the key's value. An id
// of 0 names no log: a lock file of format 3 or older, or one created
// afresh.
inline constexpr uint32_t kLockLogEndOffset = 264;
inline constexpr uint32_t kLockLogEndIdOffset = 272;

// The publication record, after the mutex: which generation is current,
// kept where every handle maps it. A publisher announces the generation it
// is about to rename into place before the rename, and commits it once the
// old index is marked superseded. A handle whose generation differs from the
// announced one checks that its index still has a name before trusting it
// (a publisher may have died between the rename and the mark); a writer
// holding the mutex finishes or undoes a dead publisher's record; recovery
// takes the record's log, not merely the newest one. Written only by the
// holder of the writers' mutex; never covered by a checksum, so every reader
// of it treats it as a hint that a slower check confirms.
struct Publication {
  uint64_t announced_generation;  // stored before the rename (release)
  uint64_t announced_log_id;
  uint64_t committed_generation;  // stored after the mark
  uint64_t committed_log_id;
  // Nonzero once an erase on a full disk tombstoned a slot without writing
  // an erase record: the log alone would then bring the erased value back,
  // so recovery forgets everything instead. Cleared by the next publication
  // of a new log (which copies only what the index names).
  uint64_t unlogged_erases;
};
inline constexpr uint32_t kLockPublicationOffset = 128;
static_assert(kLockPublicationOffset >= kLockMutexOffset + kLockMutexBytes);
static_assert(kLockPublicationOffset % 64 == 0);

// The log: the prelude, then records back to back, each starting at a
// multiple of kRecordAlign.
inline constexpr uint32_t kLogHeaderSize = 64;
inline constexpr uint64_t kRecordAlign = 16;

enum RecordKind : uint8_t {
  kRecordPut = 1,
  kRecordErase = 2,  // key only; lets a log scan honour erases
};
enum RecordCodec : uint8_t {
  kCodecRaw = 0,
  kCodecLz4 = 1,  // LZ4 block format; lz4hc writes the same format
};

// Record layout: header, key, zero padding to kRecordAlign, stored value,
// zero padding to kRecordAlign. The value therefore starts 16-byte aligned
// in the file and in every mapping of it.
struct RecordHeader {
  uint64_t checksum;    // XXH3-64 of the stored value, seeded with the
                        // XXH3-64 of header bytes [8, 32) followed by the key
  uint32_t key_len;     // 1..kMaxKeyBytes
  uint32_t stored_len;  // value bytes as stored
  uint32_t value_len;   // value bytes after decompression
  uint8_t kind;         // RecordKind
  uint8_t codec;        // RecordCodec
  uint16_t reserved;    // zero
  int64_t expires_ms;   // Unix ms of expiry; 0 = never
};
static_assert(sizeof(RecordHeader) == 32);

inline constexpr uint64_t AlignUp(uint64_t n, uint64_t a) {
  return (n + a - 1) / a * a;
}
inline constexpr uint64_t ValueOffset(uint32_t key_len) {
  return AlignUp(sizeof(RecordHeader) + key_len, kRecordAlign);
}
inline constexpr uint64_t RecordSize(uint32_t key_len, uint32_t stored_len) {
  return ValueOffset(key_len) + AlignUp(stored_len, kRecordAlign);
}

// LZ4 never expands data by more than this factor when decompressing; a
// record claiming more is corrupt, which bounds the memory a hostile file
// can make us allocate.
inline constexpr uint64_t kMaxLz4Ratio = 255;

// A reader allocates a claimed value length of up to this many times the
// stored bytes without first walking the block's sequence lengths (the walk
// was 40% of a decompression); a larger claim is walked first. So a forged
// record costs at most this many times the bytes it occupies.
inline constexpr uint64_t kUnwalkedLz4Ratio = 4;

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_FORMAT_H_
