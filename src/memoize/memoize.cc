// The non-template parts of memoize.h: name checks and key hashing.

#include "ucache/memoize.h"

// Inlined: a call's key hashes a few bytes, and the call through the shared
// library's PLT and its dispatch were 4% of a small hit. Same algorithm,
// same hashes.
#define XXH_INLINE_ALL
#include <xxhash.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cstring>
#include <stdexcept>
#include <string_view>

namespace ucache::memoize_internal {

void CheckName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameBytes) {
    throw std::invalid_argument("ucache: a memoize name is 1 to 1024 bytes");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      throw std::invalid_argument(
          "ucache: memoize name \"" + name +
          "\" holds a control character; names are shown by `ucache ls`");
    }
  }
}

uint64_t KeySeed(const std::string& name, const char* signature,
                 const std::string& layout) {
  std::string all = name;
  all.push_back('\0');  // "ab"+"c" and "a"+"bc" must differ
  all.append(signature);
  all.push_back('\0');
  all.append(layout);
  return XXH3_64bits(all.data(), all.size());
}

namespace {

// The 32 hex digits of `high` then `low`, most significant first. With
// SSE2 (every x86-64) in a few vector instructions from registers: the
// digits as 16 two-byte copies from a table were 8.5% of a small hit, and
// bytes stored one by one then loaded as a vector stall store forwarding.
void WriteHex32(uint64_t high, uint64_t low, char* out) {
#if defined(__SSE2__)
  // Byte-swapped so that the first byte is the most significant; moved
  // into the vector from registers (_mm_set_epi64x went through the stack).
  const __m128i bytes = _mm_unpacklo_epi64(
      _mm_cvtsi64_si128(static_cast<int64_t>(__builtin_bswap64(high))),
      _mm_cvtsi64_si128(static_cast<int64_t>(__builtin_bswap64(low))));
  const __m128i low_nibbles = _mm_set1_epi8(0x0f);
  const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibbles);
  const __m128i lo = _mm_and_si128(bytes, low_nibbles);
  const auto digits = [](__m128i nibbles) {
    // '0' + n, and 'a' - '0' - 10 more where n > 9.
    const __m128i letters =
        _mm_and_si128(_mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9)),
                      _mm_set1_epi8('a' - '0' - 10));
    return _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8('0')), letters);
  };
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out),
                   digits(_mm_unpacklo_epi8(hi, lo)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16),
                   digits(_mm_unpackhi_epi8(hi, lo)));
#else
  constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 16; ++i) {
    out[i] = kHex[(high >> (60 - 4 * i)) & 0xf];
    out[16 + i] = kHex[(low >> (60 - 4 * i)) & 0xf];
  }
#endif
}

}  // namespace

KeyHash HashKey(std::string_view encoded, uint64_t seed) {
  const XXH128_hash_t hash =
      XXH3_128bits_withSeed(encoded.data(), encoded.size(), seed);
  return KeyHash{hash.low64, hash.high64};
}

void WriteKeyHash(KeyHash hash, char* out) {
  out[0] = '#';
  WriteHex32(hash.high, hash.low, out + 1);
}

}  // namespace ucache::memoize_internal
