// The non-template parts of memoize.h: name checks and key hashing.

#include "ucache/memoize.h"

#include <xxhash.h>

#include <array>
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

// "000102...ff": two hex digits per byte value, so the key's digits are 16
// two-byte copies instead of 32 shifts and masks (this runs on every call).
constexpr std::array<char, 512> kHexPairs = [] {
  std::array<char, 512> t{};
  constexpr char kHex[] = "0123456789abcdef";
  for (int b = 0; b < 256; ++b) {
    t[2 * b] = kHex[b >> 4];
    t[2 * b + 1] = kHex[b & 0xf];
  }
  return t;
}();

void AppendHex64(uint64_t v, char* out) {
  for (int i = 0; i < 8; ++i) {
    std::memcpy(out + 2 * i, &kHexPairs[2 * ((v >> (56 - 8 * i)) & 0xff)], 2);
  }
}

}  // namespace

void WriteKeyHash(std::string_view encoded, uint64_t seed, char* out) {
  const XXH128_hash_t hash =
      XXH3_128bits_withSeed(encoded.data(), encoded.size(), seed);
  out[0] = '#';
  AppendHex64(hash.high64, out + 1);
  AppendHex64(hash.low64, out + 17);
}

}  // namespace ucache::memoize_internal
