#include "src/fcache/record.h"

#include <lz4.h>
#include <lz4hc.h>
#include <xxhash.h>

#include <cstring>

#include "src/common/checksum.h"
#include "src/fcache/lz4_block.h"

namespace ucache::fcache_internal {
namespace {

constexpr size_t kChecksumBytes = sizeof(RecordHeader::checksum);

// The checksum's first half: header after the checksum field, then the key.
// `header_and_key` points at a header directly followed by its key.
uint64_t HeaderSeed(const uint8_t* header_and_key, uint32_t key_len) {
  return XXH3_64bits(header_and_key + kChecksumBytes,
                     sizeof(RecordHeader) - kChecksumBytes + key_len);
}

// Values above this are compressed only if their first kSampleBytes
// shrink to at most 7/8: an 8 MB put of incompressible doubles spent most
// of its time in a full LZ4 attempt that saved nothing.
constexpr size_t kSampleBytes = 64 << 10;

// `value` compressed into *out (sized for it); the compressed size, or 0.
int Lz4(std::string_view value, const FileCacheOptions& options,
        std::string* out) {
  out->resize(LZ4_compressBound(static_cast<int>(value.size())));
  if (options.compression == Compression::kLz4Hc) {
    return LZ4_compress_HC(value.data(), out->data(),
                           static_cast<int>(value.size()),
                           static_cast<int>(out->size()), options.lz4hc_level);
  }
  return LZ4_compress_default(value.data(), out->data(),
                              static_cast<int>(value.size()),
                              static_cast<int>(out->size()));
}

// Returns the compressed form when compression applies and shrinks the
// value by at least one alignment unit, else an empty string.
std::string Compress(std::string_view value, const FileCacheOptions& options) {
  if (options.compression == Compression::kNone ||
      value.size() < options.compression_threshold ||
      value.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) {
    return {};
  }
  std::string out;
  if (value.size() > 2 * kSampleBytes) {
    const int sample = Lz4(value.substr(0, kSampleBytes), options, &out);
    if (sample <= 0 || static_cast<size_t>(sample) > kSampleBytes / 8 * 7) {
      return {};
    }
  }
  const int n = Lz4(value, options, &out);
  if (n <= 0 || static_cast<uint64_t>(n) + kRecordAlign > value.size()) {
    return {};
  }
  out.resize(n);
  return out;
}

}  // namespace

void EncodeRecord(RecordKind kind, std::string_view key, std::string_view value,
                  int64_t expires_ms, const FileCacheOptions& options,
                  EncodedRecord* out) {
  std::string compressed = Compress(value, options);
  std::string_view stored = compressed.empty() ? value : compressed;

  RecordHeader header{};
  header.key_len = static_cast<uint32_t>(key.size());
  header.stored_len = static_cast<uint32_t>(stored.size());
  header.value_len = static_cast<uint32_t>(value.size());
  header.kind = kind;
  header.codec = compressed.empty() ? kCodecRaw : kCodecLz4;
  header.expires_ms = expires_ms;

  const uint64_t size = RecordSize(header.key_len, header.stored_len);
  const bool apart = compressed.empty() && size >= kLargeRecordBytes;
  std::string& head = out->head;
  head.assign(apart ? ValueOffset(header.key_len) : size, '\0');
  uint8_t* p = reinterpret_cast<uint8_t*>(head.data());
  std::memcpy(p + sizeof(header), key.data(), key.size());
  if (apart) {
    out->value = stored;
  } else if (!stored.empty()) {  // an empty view's data() may be null
    std::memcpy(p + ValueOffset(header.key_len), stored.data(), stored.size());
  }
  std::memcpy(p, &header, sizeof(header));
  header.checksum =
      Checksum64(stored.data(), stored.size(), HeaderSeed(p, header.key_len));
  std::memcpy(p, &header.checksum, kChecksumBytes);
}

void AppendFlat(const EncodedRecord& record, std::string* out) {
  const size_t start = out->size();
  out->append(record.head);
  out->append(record.value);
  out->resize(start + record.size(), '\0');
}

bool ParseRecord(const uint8_t* base, uint64_t limit, uint64_t offset,
                 RecordView* out) {
  if (offset % kRecordAlign != 0 || offset < kLogHeaderSize || offset > limit ||
      !ParseRecordAt(base + offset, limit - offset, out)) {
    return false;
  }
  out->offset = offset;
  return true;
}

bool ParseRecordAt(const uint8_t* p, uint64_t available, RecordView* out) {
  if (available < sizeof(RecordHeader)) return false;
  const auto* h = reinterpret_cast<const RecordHeader*>(p);
  if (h->key_len == 0 || h->key_len > FileCache::kMaxKeyBytes ||
      h->stored_len > FileCache::kMaxValueBytes ||
      h->value_len > FileCache::kMaxValueBytes || h->reserved != 0) {
    return false;
  }
  switch (h->kind) {
    case kRecordPut:
      break;
    case kRecordErase:
      if (h->stored_len != 0 || h->value_len != 0) return false;
      break;
    default:
      return false;
  }
  switch (h->codec) {
    case kCodecRaw:
      if (h->value_len != h->stored_len) return false;
      break;
    case kCodecLz4:
      if (h->stored_len == 0 ||
          h->value_len > uint64_t{h->stored_len} * kMaxLz4Ratio) {
        return false;
      }
      break;
    default:
      return false;
  }
  const uint64_t size = RecordSize(h->key_len, h->stored_len);
  if (available < size) return false;
  const char* rec = reinterpret_cast<const char*>(h);
  out->header = h;
  out->key = std::string_view(rec + sizeof(RecordHeader), h->key_len);
  out->stored = std::string_view(rec + ValueOffset(h->key_len), h->stored_len);
  out->offset = 0;
  out->size = size;
  return true;
}

bool ChecksumMatches(const RecordView& record) {
  const auto* p = reinterpret_cast<const uint8_t*>(record.header);
  return Checksum64(record.stored.data(), record.stored.size(),
                    HeaderSeed(p, record.header->key_len)) ==
         record.header->checksum;
}

bool ReadValue(const RecordView& record, std::string* value) {
  const RecordHeader& h = *record.header;
  const uint64_t expected = h.checksum;
  const auto* p = reinterpret_cast<const uint8_t*>(record.header);
  const uint64_t seed = HeaderSeed(p, h.key_len);
  if (h.codec == kCodecRaw) {
    value->assign(record.stored.data(), record.stored.size());
    return Checksum64(value->data(), value->size(), seed) == expected;
  }
  if (Checksum64(record.stored.data(), record.stored.size(), seed) !=
      expected) {
    return false;
  }
  return DecompressValue(record, value);
}

bool DecompressValue(const RecordView& record, std::string* value) {
  const RecordHeader& h = *record.header;
  // value_len is only a claim: a forged record with a valid checksum may
  // claim up to 255 times its stored size. A claim of at most
  // kUnwalkedLz4Ratio times it allocates no more than that many times the
  // bytes the record occupies, and LZ4_decompress_safe checks the block as
  // it decodes; a larger claim is allocated once the block's own sequence
  // lengths back it. (The walk cost 40% of a decompression: 1 MiB text
  // values, //bench:compare workload 2, perf record.)
  if (h.value_len > kUnwalkedLz4Ratio * h.stored_len &&
      Lz4DecodedSize(record.stored, h.value_len) != h.value_len) {
    return false;
  }
  value->resize(h.value_len);
  const int n = LZ4_decompress_safe(record.stored.data(), value->data(),
                                    static_cast<int>(h.stored_len),
                                    static_cast<int>(h.value_len));
  return n >= 0 && static_cast<uint32_t>(n) == h.value_len;
}

}  // namespace ucache::fcache_internal
