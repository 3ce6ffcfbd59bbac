// Mapping: an RAII memory mapping of a file, shared by owners. Views handed
// to users hold a reference, which is how a zero-copy read outlives
// compaction and the handle that made it.

#ifndef UCACHE_SRC_FCACHE_MAPPING_H_
#define UCACHE_SRC_FCACHE_MAPPING_H_

#include <cstdint>
#include <memory>

#include "ucache/env.h"

namespace ucache::fcache_internal {

class Mapping {
 public:
  // Maps `length` bytes of `fd` from offset 0; see Env::Map for the rule on
  // lengths beyond the end of the file.
  static Result<std::shared_ptr<Mapping>> Create(std::shared_ptr<Env> env,
                                                 int fd, uint64_t length,
                                                 bool writable);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  uint8_t* data() const { return data_; }
  uint64_t length() const { return length_; }

 private:
  Mapping(std::shared_ptr<Env> env, uint8_t* data, uint64_t length)
      : env_(std::move(env)), data_(data), length_(length) {}

  const std::shared_ptr<Env> env_;
  uint8_t* const data_;
  const uint64_t length_;
};

}  // namespace ucache::fcache_internal

#endif  // UCACHE_SRC_FCACHE_MAPPING_H_
