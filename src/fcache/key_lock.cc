// KeyLock: the held form of FileCache::LockKey. It owns the descriptor the
// byte lock was taken on; closing it is what releases an OFD lock for good.
//
// Fork. An OFD lock belongs to an open file description, which a forked
// child shares with its parent: the kernel releases the lock only when the
// last descriptor of the description closes, so a child would keep its
// parent's lock alive after the parent died (another process waited 11.9 s
// for an unrelated child to exit). So every KeyLock's descriptor is listed
// here, and a child points each listed number at /dev/null. The number
// stays open for whichever KeyLock object will close it, if the forking
// thread owns one; the parent's lock is untouched. The handlers call the
// OS directly: they run inside fork(), where no Env is at hand, and make
// only async-signal-safe calls on descriptors an Env opened.

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <mutex>
#include <unordered_set>

#include "ucache/file_cache.h"

namespace ucache {
namespace {

class HeldDescriptors {
 public:
  static HeldDescriptors& Get() {
    static HeldDescriptors* const held = [] {
      auto* h = new HeldDescriptors;  // never destroyed: handlers use it
      ::pthread_atfork([] { Get().mu_.lock(); }, [] { Get().mu_.unlock(); },
                       [] { Get().LetGoInChild(); });
      return h;
    }();
    return *held;
  }

  void Add(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.insert(fd);
  }
  void Remove(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.erase(fd);
  }

 private:
  // In the child, with mu_ held since the prepare handler.
  void LetGoInChild() {
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd : fds_) {
      // Without /dev/null (no descriptor left), closing still lets go; the
      // number may then be reused before a KeyLock of the forking thread
      // closes it, which is the lesser harm.
      if (null < 0 || ::dup2(null, fd) < 0) ::close(fd);
    }
    if (null >= 0) ::close(null);
    mu_.unlock();
  }

  std::mutex mu_;
  std::unordered_set<int> fds_;  // guarded by mu_
};

}  // namespace

KeyLock::KeyLock(std::shared_ptr<Env> env, int fd, uint64_t offset)
    : env_(std::move(env)), fd_(fd), offset_(offset) {
  HeldDescriptors::Get().Add(fd_);
}

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
  // Unlocked before it leaves the list, so that a fork in between finds
  // either the descriptor listed or the lock gone. Closing the descriptor
  // releases the lock whatever the unlock said.
  env_->UnlockByte(fd_, offset_).IgnoreError();
  HeldDescriptors::Get().Remove(fd_);
  env_->Close(fd_).IgnoreError();
  fd_ = -1;
}

}  // namespace ucache
