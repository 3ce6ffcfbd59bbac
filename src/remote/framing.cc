#include "src/remote/framing.h"

#include <cstring>

#include "src/fcache/record.h"

namespace ucache::remote_internal {

using fcache_internal::RecordView;

std::string EncodeFrame(std::string_view key, std::string_view value,
                        int64_t expires_ms,
                        const FileCacheOptions& compression) {
  std::string out(kFrameHeaderBytes, '\0');
  std::memcpy(out.data(), kFrameMagic.data(), kFrameMagic.size());
  const uint32_t version = kFrameVersion;  // little-endian hosts only, as
                                           // the file format (format.h)
  std::memcpy(out.data() + kFrameMagic.size(), &version, sizeof(version));
  fcache_internal::EncodedRecord record;
  fcache_internal::EncodeRecord(fcache_internal::kRecordPut, key, value,
                                expires_ms, compression, &record);
  fcache_internal::AppendFlat(record, &out);
  return out;
}

FrameResult DecodeFrame(std::string_view bytes, std::string_view key,
                        int64_t now_ms, std::string* owned,
                        std::string_view* value, int64_t* expires_ms) {
  uint32_t version = 0;
  if (bytes.size() < kFrameHeaderBytes || !bytes.starts_with(kFrameMagic)) {
    return FrameResult::kCorrupt;
  }
  std::memcpy(&version, bytes.data() + kFrameMagic.size(), sizeof(version));
  if (version != kFrameVersion) return FrameResult::kCorrupt;
  std::string_view record_bytes = bytes.substr(kFrameHeaderBytes);
  // The record header is read in place: it needs its alignment. A reply's
  // buffer comes from malloc, so this copy is for odd callers only.
  std::string aligned;
  if (reinterpret_cast<uintptr_t>(record_bytes.data()) % 8 != 0) {
    aligned.assign(record_bytes);
    record_bytes = aligned;
  }
  RecordView record;
  if (!fcache_internal::ParseRecordAt(
          reinterpret_cast<const uint8_t*>(record_bytes.data()),
          record_bytes.size(), &record) ||
      record.header->kind != fcache_internal::kRecordPut || record.key != key ||
      !fcache_internal::ChecksumMatches(record)) {
    return FrameResult::kCorrupt;
  }
  *expires_ms = record.header->expires_ms;
  if (*expires_ms != 0 && *expires_ms <= now_ms) return FrameResult::kExpired;
  if (record.header->codec == fcache_internal::kCodecRaw) {
    if (!aligned.empty()) {
      *owned = std::string(record.stored);
      *value = *owned;
    } else {
      *value = record.stored;
    }
    return FrameResult::kValue;
  }
  if (!fcache_internal::DecompressValue(record, owned)) {
    return FrameResult::kCorrupt;
  }
  *value = *owned;
  return FrameResult::kValue;
}

}  // namespace ucache::remote_internal
