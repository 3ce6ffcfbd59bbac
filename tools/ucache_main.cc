// The `ucache` command-line tool; see tools/cli.h for what it does.

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "tools/cli.h"

int main(int argc, char** argv) {
  // Values can be large; unsynchronised streams avoid stdio's per-call
  // locking and buffering twice.
  std::ios::sync_with_stdio(false);
  ucache::cli::CliOptions options;
  options.stdout_is_tty = isatty(STDOUT_FILENO) == 1;
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY")) {
    options.working_dir = dir;
  }
  return ucache::cli::RunCli(argc, argv, std::cin, std::cout, std::cerr,
                             options);
}
