#include "tests/forge.h"

#include <xxhash.h>

#include <cstring>
#include <vector>

#include "src/fcache/format.h"
#include "src/fcache/record.h"

namespace ucache {

void SealRecords(std::string* log) {
  if (log->size() < fcache_internal::kLogHeaderSize) return;  // no record to seal
  // ParseRecord reads headers in place, so it needs the alignment a mapping
  // has.
  std::vector<uint64_t> words((log->size() + 7) / 8);
  std::memcpy(words.data(), log->data(), log->size());
  const auto* image = reinterpret_cast<const uint8_t*>(words.data());
  uint64_t pos = fcache_internal::kLogHeaderSize;
  fcache_internal::RecordView r;
  while (fcache_internal::ParseRecord(image, log->size(), pos, &r)) {
    // The record checksum of doc/format.md, section 4: the stored value,
    // seeded with the header after the checksum field and the key.
    constexpr size_t kSum = sizeof(fcache_internal::RecordHeader::checksum);
    const uint64_t seed =
        XXH3_64bits(image + pos + kSum,
                    sizeof(fcache_internal::RecordHeader) - kSum + r.header->key_len);
    const uint64_t sum =
        XXH3_64bits_withSeed(r.stored.data(), r.stored.size(), seed);
    std::memcpy(log->data() + pos, &sum, sizeof(sum));
    pos += r.size;
  }
}

void SealFilePrelude(uint64_t magic, std::string* file) {
  fcache_internal::FilePrelude prelude;
  if (file->size() < sizeof(prelude)) return;
  std::memcpy(&prelude, file->data(), sizeof(prelude));
  fcache_internal::SealPrelude(magic, &prelude);
  std::memcpy(file->data(), &prelude, sizeof(prelude));
}

}  // namespace ucache
