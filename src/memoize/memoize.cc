// The non-template parts of memoize.h: name checks and key hashing.

#include "ucache/memoize.h"

namespace ucache::memoize_internal {

void CheckName(const std::string& name) {
  if (name.empty() || name.size() > 1024) {
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

uint64_t KeySeed(const std::string& name, const char* signature) {
  std::string both = name;
  both.push_back('\0');  // "ab"+"c" and "a"+"bc" must differ
  both.append(signature);
  return XXH3_64bits(both.data(), both.size());
}

void AppendKeyHash(XXH128_hash_t hash, std::string* key) {
  static constexpr char kHex[] = "0123456789abcdef";
  char out[33];
  out[0] = '#';
  for (int i = 0; i < 16; ++i) {
    out[1 + i] = kHex[(hash.high64 >> (60 - 4 * i)) & 0xf];
    out[17 + i] = kHex[(hash.low64 >> (60 - 4 * i)) & 0xf];
  }
  key->append(out, sizeof(out));
}

}  // namespace ucache::memoize_internal
