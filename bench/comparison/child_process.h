// A child process running this same binary (re-executed through
// /proc/self/exe, so it starts cold: a fresh address space, nothing opened),
// or another program, talked to in lines over its stdin and stdout.
// //bench:compare uses children to time a store's open in a new process and to
// run two writers at once.

#ifndef UCACHE_BENCH_COMPARISON_CHILD_PROCESS_H_
#define UCACHE_BENCH_COMPARISON_CHILD_PROCESS_H_

#include <sys/types.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "ucache/status.h"

namespace ucache::bench {

class ChildProcess {
 public:
  // Starts this binary with `args` (argv[1..]); its stderr is ours.
  static Result<std::unique_ptr<ChildProcess>> Spawn(
      const std::vector<std::string>& args);
  // Starts the executable at `program` with `args` (argv[1..]), likewise:
  // e.g. a Python interpreter whose results are read back as lines.
  static Result<std::unique_ptr<ChildProcess>> SpawnProgram(
      const std::string& program, const std::vector<std::string>& args);

  // Waits for the child if Wait was not called.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Sends `line` and a newline to the child's stdin.
  Status WriteLine(const std::string& line);
  // The next line of the child's stdout, without its newline; IOError at
  // end of output.
  Result<std::string> ReadLine();
  // Waits for the child to exit; IOError unless it exited with status 0.
  Status Wait();

 private:
  ChildProcess(pid_t pid, FILE* in, FILE* out)
      : pid_(pid), to_child_(in), from_child_(out) {}
  pid_t pid_;
  FILE* to_child_;
  FILE* from_child_;
  bool waited_ = false;
};

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_CHILD_PROCESS_H_
