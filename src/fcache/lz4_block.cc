#include "src/fcache/lz4_block.h"

namespace ucache::fcache_internal {
namespace {

// A length field is 4 bits of the token; 15 there means "more follows",
// in bytes that add their value until one is below 255.
constexpr uint64_t kMoreFollows = 15;
constexpr uint64_t kMinMatch = 4;

}  // namespace

int64_t Lz4DecodedSize(std::string_view block, uint64_t limit) {
  const auto* p = reinterpret_cast<const unsigned char*>(block.data());
  const unsigned char* const end = p + block.size();
  uint64_t size = 0;
  // Adds the extension bytes of a length to *len; false when they run past
  // the block or the total passes `limit`.
  auto extend = [&](uint64_t* len) {
    for (;;) {
      if (p == end) return false;
      const unsigned char b = *p++;
      *len += b;
      if (size + *len > limit) return false;
      if (b != 255) return true;
    }
  };
  while (p != end) {
    const unsigned char token = *p++;
    uint64_t literals = token >> 4;
    if (literals == kMoreFollows && !extend(&literals)) return -1;
    if (static_cast<uint64_t>(end - p) < literals) return -1;
    p += literals;
    size += literals;
    if (size > limit) return -1;
    // The last sequence is literals alone, ending the block.
    if (p == end) return static_cast<int64_t>(size);
    if (end - p < 2) return -1;
    const uint64_t offset = p[0] | uint64_t{p[1]} << 8;
    p += 2;
    // Offset 0 is invalid by the spec, yet LZ4_decompress_safe accepts it;
    // so does this, so that both agree on every block LZ4 decodes.
    if (offset > size) return -1;
    uint64_t match = token & 15;
    if (match == kMoreFollows && !extend(&match)) return -1;
    size += match + kMinMatch;
    if (size > limit) return -1;
  }
  return -1;  // empty, or ended with a match
}

}  // namespace ucache::fcache_internal
