// Chunked values: a frame (framing.h) larger than one Redis string may be
// (proto-max-bulk-len, 512 MiB by default, learned per connection; else
// RemoteOptions::chunk_bytes) is stored as chunks under keys of their own,
// then a head under the value's key that names them:
//
//   bytes 0..7   "ucacheRC" (kChunkHeadMagic)
//   bytes 8..11  kChunkHeadVersion, little-endian
//   bytes 12..15 chunk count (1..kMaxChunks)
//   bytes 16..23 frame bytes, the chunks' sizes summed
//   bytes 24..31 XXH3-64 of the whole frame
//   bytes 32..63 the write's token: 32 lowercase hex digits, new per write
//
// Chunk i of a write is the frame's next slice, under
// prefix + "\xff" "chunk:" + token + ":" + i + ":" + key (List skips "\xff"
// keys; Clear removes them with the rest). A reader takes the head, then
// every chunk in one MGET, and hands out the frame only when its size and
// checksum match the head's; the frame's own record checksum and key are
// verified after that, as for a whole frame. So a chunk missing, replaced,
// or written by another writer (another token: another key) is a miss, and
// two writers racing on one key never mix: the head that wins names only
// its own chunks.
//
// Keys and TTL: chunks are written first, then the head, each with the
// value's TTL; a chunk's TTL is lengthened by the time the writes after it
// may take, so a head never outlives its chunks. Orphan chunks (the chunks
// of a head that was replaced or erased, or of a write that failed
// half-way): a chunked write unlinks the chunks of the head it replaces
// (read with GETRANGE before, so two racing writers may each leave the
// other's); an Erase, or a whole value replacing a chunked one, leaves them.
// They expire with their TTL; without one they stay until evicted (with
// the recommended allkeys-lru they go first, as nothing reads them) or
// removed by Clear.

#ifndef UCACHE_SRC_REMOTE_CHUNKING_H_
#define UCACHE_SRC_REMOTE_CHUNKING_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "src/remote/shard.h"
#include "ucache/status.h"

namespace ucache::remote_internal {

inline constexpr std::string_view kChunkHeadMagic = "ucacheRC";
inline constexpr uint32_t kChunkHeadVersion = 1;
inline constexpr size_t kChunkHeadBytes = 64;
// Bounds the keys of one MGET; 4 GiB (a record's limit) in 1 MiB chunks.
inline constexpr uint32_t kMaxChunks = 4096;

struct ChunkHead {
  uint32_t chunks = 0;
  uint64_t frame_bytes = 0;
  uint64_t checksum = 0;
  std::string token;
};

std::string EncodeChunkHead(const ChunkHead& head);
// False for anything but a well-formed head of this version.
bool DecodeChunkHead(std::string_view bytes, ChunkHead* head);
inline bool IsChunkHead(std::string_view bytes) {
  return bytes.starts_with(kChunkHeadMagic);
}
std::string ChunkKey(std::string_view prefix, std::string_view key,
                     std::string_view token, uint32_t index);

// The size of the chunks `frame_bytes` is stored in on `shard`, or 0 when
// it goes whole: at most `chunk_bytes` and the server's limit.
size_t ChunkBytesFor(Shard& shard, size_t frame_bytes, size_t chunk_bytes);

// Stores `frame` under prefix + key as chunks of `chunk_bytes` and a head,
// each command bounded as Shard::Run bounds it; ttl_ms 0 is no expiry.
// The first failure is returned, leaving what it wrote as orphans.
Status PutChunked(Shard& shard, std::string_view prefix, std::string_view key,
                  std::string_view frame, size_t chunk_bytes, int64_t ttl_ms);

enum class ChunkedRead {
  kFrame,       // *frame is the verified whole
  kIncomplete,  // a chunk is gone (expired, evicted, unlinked)
  kCorrupt,     // a malformed head, or chunks that do not add up to it
  kFailed,      // the server failed (counted by the shard)
};
ChunkedRead GetChunked(Shard& shard, std::string_view prefix,
                       std::string_view key, std::string_view head_bytes,
                       std::string* frame);

}  // namespace ucache::remote_internal

#endif  // UCACHE_SRC_REMOTE_CHUNKING_H_
