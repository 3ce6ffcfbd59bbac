// ScratchDir: a fresh directory under $TMPDIR (default /tmp) for a
// benchmark's stores, removed with everything in it when the object is
// destroyed. Keep one as a function-local static to remove it at exit.
// PrimePages: frees page-cache memory just before a timed write phase.

#ifndef UCACHE_BENCH_SCRATCH_DIR_H_
#define UCACHE_BENCH_SCRATCH_DIR_H_

#include <cstdint>
#include <string>

namespace ucache::bench {

class ScratchDir {
 public:
  // `prefix` names the directory: <TMPDIR>/<prefix>.XXXXXX. Exits with
  // status 2 if it cannot be made: no benchmark runs without one.
  explicit ScratchDir(const std::string& prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name. Creates nothing.
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `bytes` into a scratch file in `dir` and deletes it, so that the
// page-cache pages a write phase of that size takes next were freed just
// now. On this VM the balloon driver hands free pages back to the host a
// few seconds after they are freed (free page reporting), and a page the
// host took back costs a host fault when touched again: without this, the
// first store of each round of //bench:compare wrote its values at a third
// of the speed of the next one, whichever store it was (BENCHMARKS.md,
// workload 2). Exits with status 2 if it cannot write.
void PrimePages(const std::string& dir, uint64_t bytes);

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_SCRATCH_DIR_H_
