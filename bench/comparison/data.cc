#include "bench/comparison/data.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>

namespace ucache::bench {
namespace {

// Large enough that 1 MiB values at different offsets share little; small
// enough to make in a blink.
size_t PoolBytes(size_t value_bytes) {
  return std::max<size_t>(value_bytes * 4, size_t{1} << 20);
}

}  // namespace

std::string KeyOf(uint64_t i) {
  const XXH128_hash_t h = XXH3_128bits(&i, sizeof(i));
  std::string key(16, '\0');
  std::memcpy(key.data(), &h.low64, 8);
  std::memcpy(key.data() + 8, &h.high64, 8);
  return key;
}

Keys::Keys(uint64_t n) {
  bytes_.reserve(n * kKeyBytes);
  for (uint64_t i = 0; i < n; ++i) bytes_ += KeyOf(i);
}

Values Values::Incompressible(size_t value_bytes) {
  std::mt19937_64 rng(0x5eed);
  std::string pool(PoolBytes(value_bytes), '\0');
  for (size_t i = 0; i + 8 <= pool.size(); i += 8) {
    const uint64_t r = rng();
    std::memcpy(pool.data() + i, &r, 8);
  }
  return Values(std::move(pool), value_bytes);
}

Values Values::Compressible(size_t value_bytes) {
  static constexpr const char* kWords[] = {
      "cache ", "value ", "memory ", "mapped ", "record ", "index ",
      "log ",   "key ",   "hit ",    "miss ",   "array ",  "float ",
      "0.25 ",  "1.5 ",   "-3.75 ",  "42 ",
  };
  std::mt19937_64 rng(0x7e47);
  std::string pool;
  pool.reserve(PoolBytes(value_bytes) + 16);
  while (pool.size() < PoolBytes(value_bytes)) pool += kWords[rng() % 16];
  pool.resize(PoolBytes(value_bytes));
  return Values(std::move(pool), value_bytes);
}

std::string_view Values::operator[](uint64_t i) const {
  // Offsets step by a prime so that values i and i+1 overlap little.
  const size_t span = pool_.size() - value_bytes_ + 1;
  return std::string_view(pool_).substr((i * 7919) % span, value_bytes_);
}

}  // namespace ucache::bench
