#include "src/remote/chunking.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "src/common/checksum.h"
#include "src/remote/lease.h"

namespace ucache::remote_internal {
namespace {

// Redis takes no proto-max-bulk-len below 1 MiB: a frame up to this goes
// whole without asking the server.
constexpr size_t kMinBulkLimit = size_t{1} << 20;
constexpr size_t kTokenBytes = 32;

// Little-endian hosts only, as the file format (format.h).
template <typename T>
void Put(std::string* out, size_t at, T v) {
  std::memcpy(out->data() + at, &v, sizeof(v));
}
template <typename T>
T Get(std::string_view in, size_t at) {
  T v;
  std::memcpy(&v, in.data() + at, sizeof(v));
  return v;
}

Status Set(Shard& shard, std::string_view key, std::string_view value,
           int64_t ttl_ms) {
  if (ttl_ms <= 0) {
    const std::string_view argv[] = {"SET", key, value};
    return shard.Run(argv).status();
  }
  const std::string ttl = std::to_string(ttl_ms);
  const std::string_view argv[] = {"SET", key, value, "PX", ttl};
  return shard.Run(argv).status();
}

std::vector<std::string> ChunkKeys(std::string_view prefix,
                                   std::string_view key,
                                   const ChunkHead& head) {
  std::vector<std::string> keys;
  keys.reserve(head.chunks);
  for (uint32_t i = 0; i < head.chunks; ++i) {
    keys.push_back(ChunkKey(prefix, key, head.token, i));
  }
  return keys;
}

// Runs `command` followed by every key of `keys`.
Result<Reply> RunOnKeys(Shard& shard, std::string_view command,
                        const std::vector<std::string>& keys) {
  std::vector<std::string_view> argv = {command};
  argv.insert(argv.end(), keys.begin(), keys.end());
  return shard.Run(argv);
}

}  // namespace

std::string EncodeChunkHead(const ChunkHead& head) {
  std::string out(kChunkHeadBytes, '\0');
  std::memcpy(out.data(), kChunkHeadMagic.data(), kChunkHeadMagic.size());
  Put<uint32_t>(&out, 8, kChunkHeadVersion);
  Put<uint32_t>(&out, 12, head.chunks);
  Put<uint64_t>(&out, 16, head.frame_bytes);
  Put<uint64_t>(&out, 24, head.checksum);
  std::memcpy(out.data() + 32, head.token.data(),
              std::min(head.token.size(), kTokenBytes));
  return out;
}

bool DecodeChunkHead(std::string_view bytes, ChunkHead* head) {
  if (bytes.size() != kChunkHeadBytes || !IsChunkHead(bytes) ||
      Get<uint32_t>(bytes, 8) != kChunkHeadVersion) {
    return false;
  }
  head->chunks = Get<uint32_t>(bytes, 12);
  head->frame_bytes = Get<uint64_t>(bytes, 16);
  head->checksum = Get<uint64_t>(bytes, 24);
  head->token.assign(bytes.substr(32, kTokenBytes));
  const bool hex = std::all_of(
      head->token.begin(), head->token.end(),
      [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  return hex && head->chunks >= 1 && head->chunks <= kMaxChunks &&
         head->frame_bytes >= head->chunks;
}

std::string ChunkKey(std::string_view prefix, std::string_view key,
                     std::string_view token, uint32_t index) {
  std::string out(prefix);
  out +=
      "\xff"
      "chunk:";
  out += token;
  out += ':';
  out += std::to_string(index);
  out += ':';
  out += key;
  return out;
}

size_t ChunkBytesFor(Shard& shard, size_t frame_bytes, size_t chunk_bytes) {
  chunk_bytes = std::max<size_t>(chunk_bytes, 1);
  if (frame_bytes <= std::min(chunk_bytes, kMinBulkLimit)) return 0;
  const size_t limit = shard.BulkLimit();
  size_t chunk = limit == 0 ? chunk_bytes : std::min(chunk_bytes, limit);
  if (frame_bytes <= chunk) return 0;
  // A tiny chunk_bytes must not make an MGET of a million keys; a limit of
  // 1 MiB or more holds 4 GiB (a record's bound) in kMaxChunks.
  return std::max(chunk, (frame_bytes + kMaxChunks - 1) / kMaxChunks);
}

Status PutChunked(Shard& shard, std::string_view prefix, std::string_view key,
                  std::string_view frame, size_t chunk_bytes, int64_t ttl_ms) {
  const std::string full = std::string(prefix) + std::string(key);
  // The head this write replaces, whose chunks it unlinks after; GETRANGE,
  // as what it replaces may be a whole value of hundreds of MiB.
  const std::string last = std::to_string(kChunkHeadBytes - 1);
  const std::string_view range[] = {"GETRANGE", full, "0", last};
  Result<Reply> old = shard.Run(range);
  if (!old.ok()) return old.status();
  ChunkHead replaced;
  const bool replaces =
      old->type == Reply::Type::kString && DecodeChunkHead(old->str, &replaced);

  ChunkHead head;
  head.chunks =
      static_cast<uint32_t>((frame.size() + chunk_bytes - 1) / chunk_bytes);
  head.frame_bytes = frame.size();
  head.checksum = Checksum64(frame.data(), frame.size());
  head.token = NewLeaseToken();  // random, as a lease's token is
  // One command per chunk: a chunk is a MiB or more, so a round trip's
  // latency is small beside its transfer, and each stays within one
  // operation_timeout.
  const int64_t step = shard.operation_timeout().count();
  for (uint32_t i = 0; i < head.chunks; ++i) {
    const int64_t ttl =
        ttl_ms <= 0 ? 0 : ttl_ms + static_cast<int64_t>(head.chunks - i) * step;
    if (Status s = Set(shard, ChunkKey(prefix, key, head.token, i),
                       frame.substr(size_t{i} * chunk_bytes, chunk_bytes), ttl);
        !s.ok()) {
      return s;
    }
  }
  if (Status s = Set(shard, full, EncodeChunkHead(head), ttl_ms); !s.ok()) {
    return s;
  }
  if (replaces) {
    // A failure leaves orphans (and is counted by the shard): the value
    // is stored.
    RunOnKeys(shard, "UNLINK", ChunkKeys(prefix, key, replaced))
        .status()
        .IgnoreError();
  }
  return Status::OK();
}

ChunkedRead GetChunked(Shard& shard, std::string_view prefix,
                       std::string_view key, std::string_view head_bytes,
                       std::string* frame) {
  ChunkHead head;
  if (!DecodeChunkHead(head_bytes, &head)) return ChunkedRead::kCorrupt;
  // One MGET: every chunk in one round trip, as of one instant.
  Result<Reply> r = RunOnKeys(shard, "MGET", ChunkKeys(prefix, key, head));
  if (!r.ok()) return ChunkedRead::kFailed;
  if (r->type != Reply::Type::kArray || r->elements.size() != head.chunks) {
    return ChunkedRead::kCorrupt;
  }
  uint64_t total = 0;
  for (const Reply& chunk : r->elements) {
    if (chunk.type == Reply::Type::kNil) return ChunkedRead::kIncomplete;
    if (chunk.type != Reply::Type::kString) return ChunkedRead::kCorrupt;
    total += chunk.str.size();
  }
  if (total != head.frame_bytes) return ChunkedRead::kCorrupt;
  frame->clear();
  frame->reserve(total);
  for (const Reply& chunk : r->elements) frame->append(chunk.str);
  return Checksum64(frame->data(), frame->size()) == head.checksum
             ? ChunkedRead::kFrame
             : ChunkedRead::kCorrupt;
}

}  // namespace ucache::remote_internal
