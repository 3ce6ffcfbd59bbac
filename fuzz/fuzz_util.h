// Helpers shared by the fuzz targets: a failing check, aligned copies of
// inputs, a scratch directory and a reader of structured input. Making
// hostile bytes pass ucache's checksums, so that fuzzing reaches the code
// behind each checksum instead of stopping at it, is tests/forge.h.
//
// Thread safety: none needed; a fuzz target runs one input at a time.

#ifndef UCACHE_FUZZ_FUZZ_UTIL_H_
#define UCACHE_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

// Aborts, naming the broken property, when `cond` is false: the way a fuzz
// target reports a wrong result (libFuzzer then saves the input).
#define FUZZ_CHECK(cond)                                               \
  do {                                                                 \
    if (!(cond)) {                                                     \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, \
                   __LINE__, #cond);                                   \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

namespace ucache::fuzz {

// A heap buffer of exactly `size` bytes aligned to 64, like the start of a
// mapping (the engine relies on records being 16-aligned in memory), and no
// larger, so that AddressSanitizer catches a read past its end.
class AlignedBytes {
 public:
  explicit AlignedBytes(std::string_view bytes);
  uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t size_;
};

// A directory private to this process, made on first use under $TEST_TMPDIR,
// $TMPDIR or /tmp, and removed at exit.
const std::string& ScratchDir();

// Removes every entry of directory `dir` (not recursively: stores are flat).
void EmptyDir(const std::string& dir);

// Creates or replaces `path` with `bytes`, mode 0600. Aborts on failure: a
// fuzz run that cannot set up its input would test nothing.
void WriteFileOrDie(const std::string& path, std::string_view bytes);

// Reads little-endian integers from a fuzzer's input, yielding zeros once
// it is exhausted.
class InputReader {
 public:
  InputReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t U8();
  uint32_t U24();
  // Up to `n` bytes (fewer at the end of the input).
  std::string_view Bytes(size_t n);
  std::string_view Rest() { return Bytes(size_); }
  bool empty() const { return size_ == 0; }

 private:
  const uint8_t* data_;
  size_t size_;
};

}  // namespace ucache::fuzz

#endif  // UCACHE_FUZZ_FUZZ_UTIL_H_
