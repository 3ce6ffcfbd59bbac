// Records of the log: encoding a put or erase into bytes, and reading one
// back out of a mapping with every bound checked before it is trusted.

#ifndef UCACHE_SRC_FCACHE_RECORD_H_
#define UCACHE_SRC_FCACHE_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "src/fcache/format.h"
#include "ucache/file_cache.h"

namespace ucache::fcache_internal {

// A record located inside readable memory. The pointers are as valid as the
// memory they were parsed from.
struct RecordView {
  const RecordHeader* header = nullptr;
  std::string_view key;
  std::string_view stored;  // the value as stored (maybe compressed)
  uint64_t offset = 0;      // in the log
  uint64_t size = 0;        // bytes the record occupies, padding included
};

// Records of this size and more are appended with writes (LogFile::Append)
// instead of through the mapping, and a raw value of one is not copied into
// its encoding first.
inline constexpr uint64_t kLargeRecordBytes = 256 << 10;

// An encoded record, as a writer appends it: `head` holds the whole record,
// or, when `value` is set (a large record's raw value), only what precedes
// the value; the value then stays in the caller's memory and is written
// after `head`, followed by zeros up to size(). An 8 MB put spent a fifth of
// its time zero-filling the encoding and copying the value into it.
struct EncodedRecord {
  std::string head;
  std::string_view value;

  const RecordHeader& header() const {
    return *reinterpret_cast<const RecordHeader*>(head.data());
  }
  uint64_t size() const {
    return RecordSize(header().key_len, header().stored_len);
  }
};

// Encodes the record into *out. The value is compressed as `options` say
// when that makes it smaller; `value` must outlive *out.
void EncodeRecord(RecordKind kind, std::string_view key, std::string_view value,
                  int64_t expires_ms, const FileCacheOptions& options,
                  EncodedRecord* out);

// Appends the record's bytes, as a log holds them (head, value, padding),
// to *out: for a caller that needs them in one piece.
void AppendFlat(const EncodedRecord& record, std::string* out);

// Parses the record at `offset` of a log whose first `limit` bytes at
// `base` are readable. Checks alignment, lengths and enum values against
// `limit`; does not check the checksum. False when anything is out of bounds.
bool ParseRecord(const uint8_t* base, uint64_t limit, uint64_t offset,
                 RecordView* out);

// ParseRecord's checks for a record at `p` alone (at offset 0 of
// `available` bytes that no other writer can change, e.g. a value read from
// the remote tier); `p` must be 8-byte aligned.
bool ParseRecordAt(const uint8_t* p, uint64_t available, RecordView* out);

// True when the record's checksum matches its bytes in place.
bool ChecksumMatches(const RecordView& record);

// Writes the record's value into *value, verified: a raw value is copied
// first and the copy checksummed, so bytes changing underneath cannot slip
// through; a compressed value is checksummed, then decompressed with bounds.
// False (and *value unspecified) when verification or decoding fails.
bool ReadValue(const RecordView& record, std::string* value);

// Decodes a compressed record whose checksum matched into *value, with
// bounds; for bytes no one can change after ChecksumMatches. False when
// decoding fails.
bool DecompressValue(const RecordView& record, std::string* value);

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_RECORD_H_
