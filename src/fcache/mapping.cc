#include "src/fcache/mapping.h"

namespace ucache::fcache_internal {

Result<std::shared_ptr<Mapping>> Mapping::Create(std::shared_ptr<Env> env,
                                                 int fd, uint64_t length,
                                                 bool writable) {
  Result<void*> addr = env->Map(fd, length, writable);
  if (!addr.ok()) return addr.status();
  return std::shared_ptr<Mapping>(
      new Mapping(std::move(env), static_cast<uint8_t*>(*addr), length));
}

Mapping::~Mapping() { env_->Unmap(data_, length_); }

}  // namespace ucache::fcache_internal
