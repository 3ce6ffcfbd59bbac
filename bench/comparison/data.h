// Keys and values for //bench:compare, the same in every process so that a
// child process can read what its parent wrote.

#ifndef UCACHE_BENCH_COMPARISON_DATA_H_
#define UCACHE_BENCH_COMPARISON_DATA_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace ucache::bench {

// Key number `i`: the 16 bytes of XXH3-128(i), the shape of a memoization
// key (a hash of function and arguments). Being random, keys arrive in no
// order, as cache fills do: sorted stores get no sequential-insert bonus.
std::string KeyOf(uint64_t i);

// Keys 0..n-1 packed in one buffer, so that fetching a random key costs the
// harness one cache miss and no pointer chase: the timed loops should spend
// their time in the stores.
class Keys {
 public:
  static constexpr size_t kKeyBytes = 16;
  explicit Keys(uint64_t n);
  std::string_view operator[](uint64_t i) const {
    return std::string_view(bytes_).substr(i * kKeyBytes, kKeyBytes);
  }
  uint64_t size() const { return bytes_.size() / kKeyBytes; }

 private:
  std::string bytes_;
};

// Values of one size, cut from a pool of bytes at offsets that depend on the
// value's number, so that neighbouring values differ.
class Values {
 public:
  // Random bytes: nothing compresses them.
  static Values Incompressible(size_t value_bytes);
  // Text-like bytes (words from a small vocabulary) that LZ4 shrinks to
  // about 40% (2.4x, measured on 1 MiB values).
  static Values Compressible(size_t value_bytes);

  std::string_view operator[](uint64_t i) const;
  size_t value_bytes() const { return value_bytes_; }

 private:
  Values(std::string pool, size_t value_bytes)
      : pool_(std::move(pool)), value_bytes_(value_bytes) {}
  std::string pool_;
  size_t value_bytes_;
};

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_DATA_H_
