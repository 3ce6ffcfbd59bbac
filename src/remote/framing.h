// The bytes of a value in Redis: a 16-byte frame header (magic, version)
// followed by one put record of the file tier's log (src/fcache/record.h):
// its checksum covers header, key and stored bytes, LZ4 applies when it
// pays, and it carries the expiry. The record's key is the cache key, so a
// value copied under another key does not verify.
//
//   bytes 0..7   "ucacheRV" (kFrameMagic)
//   bytes 8..11  kFrameVersion, little-endian
//   bytes 12..15 zero
//   bytes 16..   the record, as doc/format.md describes a log record

#ifndef UCACHE_SRC_REMOTE_FRAMING_H_
#define UCACHE_SRC_REMOTE_FRAMING_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "ucache/file_cache.h"

namespace ucache::remote_internal {

inline constexpr std::string_view kFrameMagic = "ucacheRV";
inline constexpr uint32_t kFrameVersion = 1;
inline constexpr size_t kFrameHeaderBytes = 16;

// The framed value; `compression` decides on LZ4 as the file tier does.
std::string EncodeFrame(std::string_view key, std::string_view value,
                        int64_t expires_ms,
                        const FileCacheOptions& compression);

enum class FrameResult { kValue, kExpired, kCorrupt };

// Verifies `bytes` as the frame of `key` at wall time `now_ms`. On kValue,
// *value is the value: a view into `bytes` (stored raw) or into *owned
// (decompressed); *expires_ms its expiry. kCorrupt for anything that is
// not a verified frame of this key and version.
FrameResult DecodeFrame(std::string_view bytes, std::string_view key,
                        int64_t now_ms, std::string* owned,
                        std::string_view* value, int64_t* expires_ms);

}  // namespace ucache::remote_internal

#endif  // UCACHE_SRC_REMOTE_FRAMING_H_
