// The `ucache` command-line tool; see tools/cli.h for what it does.

#include <unistd.h>

#include <iostream>

#include "tools/cli.h"

int main(int argc, char** argv) {
  // Values can be large; unsynchronised streams avoid stdio's per-call
  // locking and buffering twice.
  std::ios::sync_with_stdio(false);
  ucache::cli::CliOptions options;
  options.stdout_is_tty = isatty(STDOUT_FILENO) == 1;
  return ucache::cli::RunCli(argc, argv, std::cin, std::cout, std::cerr,
                             options);
}
