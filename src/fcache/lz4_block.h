// Reading the size an LZ4 block decodes to from its sequence headers alone,
// without decoding it. A record's value_len is a claim made by the file; a
// reader checks it against the block before allocating value_len bytes, so
// that a forged record cannot make it allocate more than the block really
// produces.

#ifndef UCACHE_SRC_FCACHE_LZ4_BLOCK_H_
#define UCACHE_SRC_FCACHE_LZ4_BLOCK_H_

#include <cstdint>
#include <string_view>

namespace ucache::fcache_internal {

// The number of bytes the LZ4 block (no frame) `block` decodes to, read from
// its literal and match lengths, or -1 when the block is cut short, ends
// with a match, refers back before its start, or decodes to more than
// `limit` bytes. Reads each byte of `block` at most once and stops as soon
// as `limit` is passed. Every block LZ4_decompress_safe accepts gets the
// size it decodes to; LZ4_decompress_safe may still refuse a block that
// this accepts.
int64_t Lz4DecodedSize(std::string_view block, uint64_t limit);

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_LZ4_BLOCK_H_
