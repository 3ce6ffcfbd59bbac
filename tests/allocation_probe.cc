#include "tests/allocation_probe.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace ucache {
namespace {

std::atomic<size_t> largest{0};

void* Allocate(size_t n) {
  size_t seen = largest.load(std::memory_order_relaxed);
  while (n > seen &&
         !largest.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
  return std::malloc(n == 0 ? 1 : n);
}

}  // namespace

void AllocationProbe::Reset() { largest.store(0, std::memory_order_relaxed); }

size_t AllocationProbe::Largest() {
  return largest.load(std::memory_order_relaxed);
}

}  // namespace ucache

// The replaceable global allocation functions ([new.delete]). The aligned
// forms are left to the library: its defaults do not call these.
void* operator new(size_t n) {
  if (void* p = ucache::Allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  return ucache::Allocate(n);
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  return ucache::Allocate(n);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
