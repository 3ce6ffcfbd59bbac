// Fuzzes the record codec (src/fcache/record.h): parsing a log image made of
// arbitrary bytes, verifying and decoding what parses, and encoding then
// decoding arbitrary keys and values.
//
// Input: one flags byte, then the log's bytes after its 64-byte prelude.
//   bit 0     seal: give every record that parses a valid checksum first, as
//             an attacker writing the file would, so that decoding (LZ4
//             included) is reached;
//   bits 1-2  the compression of the round trip: none, LZ4, LZ4 HC.
// Properties checked besides "no crash, no sanitizer report":
//  * a record that reads (ReadValue true) yields exactly value_len bytes,
//    its checksum matches, and a raw one yields its stored bytes;
//  * encoding (key, value) and parsing it back gives the key and the value;
//  * Lz4DecodedSize of the input gives the size LZ4 itself decodes it to
//    whenever LZ4 accepts it.

#include <lz4.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_util.h"
#include "src/fcache/format.h"
#include "src/fcache/lz4_block.h"
#include "src/fcache/record.h"
#include "tests/forge.h"

namespace ucache::fuzz {
namespace {

using fcache_internal::kLogHeaderSize;
using fcache_internal::RecordView;

// Reads every record the engine could be pointed at: each 16-aligned offset,
// as a stale or hostile index slot may name any of them.
void ReadEveryOffset(const std::string& log) {
  const AlignedBytes image(log);
  std::string value;
  for (uint64_t pos = kLogHeaderSize; pos < image.size(); pos += 16) {
    RecordView r;
    if (!fcache_internal::ParseRecord(image.data(), image.size(), pos, &r)) continue;
    FUZZ_CHECK(r.offset == pos && r.size <= image.size() - pos);
    if (r.header->kind != fcache_internal::kRecordPut) continue;
    const bool matches = fcache_internal::ChecksumMatches(r);
    if (fcache_internal::ReadValue(r, &value)) {
      FUZZ_CHECK(matches);
      FUZZ_CHECK(value.size() == r.header->value_len);
      if (r.header->codec == fcache_internal::kCodecRaw) FUZZ_CHECK(value == r.stored);
    }
  }
}

void CheckLz4Size(std::string_view block) {
  std::string out(1 << 16, '\0');
  const int n = LZ4_decompress_safe(block.data(), out.data(),
                                    static_cast<int>(block.size()),
                                    static_cast<int>(out.size()));
  if (n >= 0) FUZZ_CHECK(fcache_internal::Lz4DecodedSize(block, out.size()) == n);
}

void RoundTrip(std::string_view bytes, Compression compression) {
  InputReader in(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  const std::string key(in.Bytes(1 + in.U8() % 64));
  if (key.empty()) return;
  const std::string value(in.Rest());
  FileCacheOptions options;
  options.compression = compression;
  options.compression_threshold = 0;
  fcache_internal::EncodedRecord record;
  fcache_internal::EncodeRecord(fcache_internal::kRecordPut, key, value, 0, options, &record);
  // As a writer lays it out: the head, a large value kept apart, padding.
  std::string log(kLogHeaderSize, '\0');
  log += record.head;
  log += record.value;
  log.resize(kLogHeaderSize + record.size(), '\0');
  const AlignedBytes image(log);
  RecordView r;
  FUZZ_CHECK(
      fcache_internal::ParseRecord(image.data(), image.size(), kLogHeaderSize, &r));
  FUZZ_CHECK(r.size == image.size() - kLogHeaderSize);
  FUZZ_CHECK(r.key == key);
  FUZZ_CHECK(fcache_internal::ChecksumMatches(r));
  std::string got;
  FUZZ_CHECK(fcache_internal::ReadValue(r, &got));
  FUZZ_CHECK(got == value);
}

}  // namespace
}  // namespace ucache::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ucache::fuzz;
  InputReader in(data, size);
  const uint8_t flags = in.U8();
  const std::string_view body = in.Rest();
  std::string log(ucache::fcache_internal::kLogHeaderSize, '\0');
  log.append(body);
  if (flags & 1) ucache::SealRecords(&log);
  ReadEveryOffset(log);
  CheckLz4Size(body);
  const ucache::Compression compressions[] = {ucache::Compression::kNone,
                                              ucache::Compression::kLz4,
                                              ucache::Compression::kLz4Hc};
  RoundTrip(body, compressions[(flags >> 1) % 3]);
  return 0;
}
