// The `ucache` command-line tool: inspect and maintain a FileCache store from
// the shell (put, get, rm, ls, clear, stats, verify, compact). put, get, rm,
// ls, clear and stats also take redis:// or redis+unix:// URLs for DIR: the
// remote tier's servers (RemoteCache), the keys under --prefix. A server
// that does not answer fails the command (exit 2) within the remote
// operation timeout, on one line naming the URLs and the cause.
//
// The whole tool lives behind RunCli so that tests drive it in-process with
// string streams instead of spawning the binary; main() only wires it to the
// real stdin, stdout, stderr and terminal. It uses nothing but the public
// API (ucache/ucache.h).
//
// Exit codes are part of the contract (see kExit* below): scripts rely on
// telling a miss (1) from an error (2) and from a corrupt store (3).
//
// Thread safety: RunCli keeps no global state; concurrent calls are safe as
// long as they use distinct streams.

#ifndef UCACHE_TOOLS_CLI_H_
#define UCACHE_TOOLS_CLI_H_

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

namespace ucache::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitMiss = 1;     // get: the key is absent
inline constexpr int kExitError = 2;    // bad arguments or a failed call
inline constexpr int kExitCorrupt = 3;  // verify: corruption found

inline constexpr std::string_view kVersion = "0.1.0";

// What RunCli may not find out from its streams alone.
struct CliOptions {
  // Whether stdout is a terminal; `compact` draws a progress bar on the
  // error stream only then, so that scripts and logs never see one.
  bool stdout_is_tty = false;
  // Where a relative DIR is taken from; empty: the current directory. main()
  // passes $BUILD_WORKING_DIRECTORY, which `bazel run` sets to the directory
  // the user ran it from (the tool itself runs in its runfiles tree).
  std::string working_dir;
};

// Parses `argv` (argv[0] is the program name) and runs one subcommand.
// `in` supplies the value for `put`; `out` receives values, listings and
// reports; `err` receives diagnostics, each failure as
// "ucache: <what>: <Status::ToString()>". Returns the process exit code and
// never throws.
int RunCli(int argc, const char* const* argv, std::istream& in,
           std::ostream& out, std::ostream& err,
           const CliOptions& options = {});

// How `ls` prints a key: printable ASCII as is, a backslash as "\\", and
// every other byte as "\xNN" (two lowercase hex digits), so that each key is
// one unambiguous line.
std::string EscapeKey(std::string_view key);

// "512 B", "1.5 KiB", "3.2 GiB": binary units, one decimal.
std::string HumanBytes(uint64_t bytes);

}  // namespace ucache::cli

#endif  // UCACHE_TOOLS_CLI_H_
