// ScratchDir: a fresh directory under $TMPDIR (default /tmp) for a
// benchmark's stores, removed with everything in it when the object is
// destroyed. Keep one as a function-local static to remove it at exit.

#ifndef UCACHE_BENCH_SCRATCH_DIR_H_
#define UCACHE_BENCH_SCRATCH_DIR_H_

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

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_SCRATCH_DIR_H_
