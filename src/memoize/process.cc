// What memoized functions share across every handle of the process: the
// fork count that tells a forked child's inherited state from its own, the
// per-key store locks each thread holds, and how acache threads start.
//
// Process-wide state, against the house rule, because what it tracks is
// process-wide: a fork, and a store lock taken through any handle of any
// name. Both are built on first use and never destroyed, since fork
// handlers may run at any time.

#include <pthread.h>

#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "ucache/memoize.h"

namespace ucache::memoize_internal {

constinit std::atomic<uint64_t> fork_generation{0};

void WatchForks() {
  static const bool watching = [] {
    ::pthread_atfork(nullptr, nullptr, [] {
      fork_generation.fetch_add(1, std::memory_order_relaxed);
    });
    return true;
  }();
  (void)watching;
}

namespace {

void StartStdThread(std::function<void()> body) {
  std::thread(std::move(body)).detach();
}

std::atomic<ThreadStarter> thread_starter{StartStdThread};

}  // namespace

void StartThread(std::function<void()> body) {
  thread_starter.load()(std::move(body));
}

ThreadStarter SetThreadStarter(ThreadStarter starter) {
  return thread_starter.exchange(starter != nullptr ? starter : StartStdThread);
}

std::exception_ptr Workers::Start(std::function<void()> body) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++running_;
  }
  try {
    StartThread([self = shared_from_this(), body = std::move(body)]() mutable {
      body();
      body = nullptr;
      self->Finish();
    });
  } catch (const std::system_error&) {
    Finish();
    return std::current_exception();
  }
  return nullptr;
}

bool Workers::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return done_.wait_for(lock, timeout, [&] { return running_ == 0; });
}

void Workers::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--running_ == 0) done_.notify_all();
}

namespace {

// (store directory, key) -> the thread holding its lock, and the fork
// generation it took it in: a lock taken by a thread of the parent is not
// held by the child's thread that happens to reuse its id.
class HeldKeys {
 public:
  static HeldKeys& Get() {
    static HeldKeys* const held = [] {
      auto* h = new HeldKeys;
      // mu_ may be held by another thread at the fork: the child would
      // never see it unlocked.
      ::pthread_atfork([] { Get().mu_.lock(); }, [] { Get().mu_.unlock(); },
                       [] { Get().mu_.unlock(); });
      return h;
    }();
    return *held;
  }

  bool ByThisThread(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = holders_.find(id);
    return it != holders_.end() && it->second == Here();
  }
  void Add(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    holders_[id] = Here();
  }
  void Remove(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = holders_.find(id);
    if (it != holders_.end() && it->second == Here()) holders_.erase(it);
  }

 private:
  using Holder = std::pair<std::thread::id, uint64_t>;
  static Holder Here() {
    return {std::this_thread::get_id(), ForkGeneration()};
  }

  std::mutex mu_;
  std::unordered_map<std::string, Holder> holders_;  // guarded by mu_
};

// Empty for a cache without a store: it takes no key locks.
std::string HeldId(const Cache& cache, std::string_view key) {
  const std::string& dir = cache.options().dir;
  if (dir.empty()) return std::string();
  std::string id = dir;
  id.push_back('\0');
  id.append(key);
  return id;
}

}  // namespace

HeldKeyLock::HeldKeyLock(Cache& cache, std::string_view key)
    : lock_(cache.LockKey(key)) {
  if (lock_.held()) id_ = HeldId(cache, key);
  if (!id_.empty()) HeldKeys::Get().Add(id_);
}

HeldKeyLock::~HeldKeyLock() {
  if (!id_.empty()) HeldKeys::Get().Remove(id_);
}

bool HeldKeyLock::ByThisThread(const Cache& cache, std::string_view key) {
  const std::string id = HeldId(cache, key);
  return !id.empty() && HeldKeys::Get().ByThisThread(id);
}

}  // namespace ucache::memoize_internal
