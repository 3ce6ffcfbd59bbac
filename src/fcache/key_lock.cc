// KeyLock: the held form of FileCache::LockKey. It owns the descriptor the
// byte lock was taken on; closing it is what releases an OFD lock for good.

#include "ucache/file_cache.h"

namespace ucache {

KeyLock::KeyLock(KeyLock&& other) noexcept
    : env_(std::move(other.env_)),
      fd_(std::exchange(other.fd_, -1)),
      offset_(other.offset_) {}

KeyLock& KeyLock::operator=(KeyLock&& other) noexcept {
  if (this != &other) {
    Release();
    env_ = std::move(other.env_);
    fd_ = std::exchange(other.fd_, -1);
    offset_ = other.offset_;
  }
  return *this;
}

void KeyLock::Release() {
  if (fd_ < 0) return;
  // Closing the descriptor drops the lock even if the explicit unlock
  // fails, so the unlock's status carries no information worth returning.
  // Closing the descriptor releases the lock whatever the unlock said.
  env_->UnlockByte(fd_, offset_).IgnoreError();
  env_->Close(fd_).IgnoreError();
  fd_ = -1;
}

}  // namespace ucache
