// ucache's file tier side by side with LMDB, RocksDB, LevelDB, SQLite and a
// file-per-key store, on the workloads of issue 4:
//
//   bazel run -c opt //bench:compare [-- --workloads=1,3 --stores=fcache,LMDB
//                                        --repeats=3 --dir=/var/tmp ...]
//
// Each workload prints a markdown table (median of --repeats runs) with the
// ratio fcache / peer; see bench/comparison/workloads.h. Workload 6 is the
// memoization table of //bench:memoize_compare (ucache's copying and
// zero-copy hits against joblib, diskcache and a plain copy), run as a
// child so that one command prints everything. `--help` lists the
// size flags; the smoke test runs everything at tiny sizes. Stores are made
// under --dir (default $TMPDIR, else /tmp), which should be a real disk,
// not tmpfs, and are removed as soon as each is measured.
//
// The hidden subcommands child-open, child-mixed and child-spin are the child
// processes that workloads 3 and 4 start by re-executing this binary.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "bench/comparison/child_process.h"
#include "bench/comparison/report.h"
#include "bench/comparison/stores.h"
#include "bench/comparison/workloads.h"

namespace {

using ucache::bench::Config;
using ucache::bench::StoreKind;

std::string DefaultDir() {
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
         "/ucache-compare";
}

// memoize_compare beside this binary (bazel-bin/bench/).
std::string SiblingMemoizeCompare() {
  std::error_code ec;
  const std::filesystem::path self =
      std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path() / "memoize_compare").string();
}

// Workload 6: runs memoize_compare and prints its table.
void RunMemoize(const std::string& binary, const std::string& script, int n,
                const Config& config) {
  std::printf(
      "\n### Workload 6: memoization of a %.1f MB float64 result (median of "
      "%d)\n",
      n * 8 / 1e6, config.repeats);
  ucache::Result<std::unique_ptr<ucache::bench::ChildProcess>> child =
      ucache::bench::ChildProcess::SpawnProgram(
          binary,
          {"--script", script, "--n", std::to_string(n), "--reps",
           std::to_string(config.repeats), "--dir", config.dir + "/memoize"});
  ucache::bench::CheckOk(child.status(), "starting " + binary);
  for (;;) {
    ucache::Result<std::string> line = (*child)->ReadLine();
    if (!line.ok()) break;  // end of its output
    std::printf("%s\n", line->c_str());
  }
  ucache::bench::CheckOk((*child)->Wait(), binary);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ucache's file tier against LMDB, RocksDB, LevelDB, SQLite and "
      "a file per key"};
  Config config;
  config.dir = DefaultDir();
  std::vector<int> workloads = {1, 2, 3, 4, 5, 6};
  std::vector<std::string> store_names;
  for (const StoreKind& kind : ucache::bench::AllStores()) {
    store_names.emplace_back(kind.name);
  }
  app.add_option("--dir", config.dir, "scratch directory (a real disk)");
  app.add_option("--workloads", workloads, "which workloads, 1..6")
      ->delimiter(',')
      ->check(CLI::Range(1, 6));
  app.add_option("--stores", store_names, "which stores, in table order")
      ->delimiter(',');
  app.add_option("--repeats", config.repeats, "runs per measurement (median)")
      ->check(CLI::PositiveNumber);
  app.add_option("--small-keys", config.small_keys, "workload 1 keys");
  app.add_option("--small-value-bytes", config.small_value_bytes,
                 "workload 1 value size");
  app.add_option("--small-gets", config.small_gets, "workload 1 gets");
  app.add_option("--large-keys", config.large_keys, "workload 2 keys");
  app.add_option("--large-value-bytes", config.large_value_bytes,
                 "workload 2 value size");
  app.add_option("--large-gets", config.large_gets, "workload 2 gets");
  app.add_option("--open-keys", config.open_keys, "workload 3 entries");
  app.add_option("--mixed-keys", config.mixed_keys, "workload 4 keys");
  app.add_option("--mixed-ops", config.mixed_ops,
                 "workload 4 operations per process");
  app.add_option("--compact-keys", config.compact_keys, "workload 5 keys");
  app.add_option("--compact-value-bytes", config.compact_value_bytes,
                 "workload 5 value size");

  std::string memoize_compare = SiblingMemoizeCompare(),
              memoize_script = "bench/memoize_compare.py";
  int memoize_n = 1000000;
  app.add_option("--memoize-compare", memoize_compare,
                 "workload 6: the memoize_compare binary");
  app.add_option("--memoize-script", memoize_script,
                 "workload 6: memoize_compare.py");
  app.add_option("--memoize-n", memoize_n, "workload 6 float64 values");

  std::string child_store, child_dir;
  uint64_t child_key = 0, child_keys = 1, child_ops = 0, child_seed = 0;
  CLI::App* open_child = app.add_subcommand("child-open")->group("");
  open_child->add_option("--store", child_store)->required();
  open_child->add_option("--dir", child_dir)->required();
  open_child->add_option("--key", child_key)->required();
  CLI::App* mixed_child = app.add_subcommand("child-mixed")->group("");
  mixed_child->add_option("--store", child_store)->required();
  mixed_child->add_option("--dir", child_dir)->required();
  mixed_child->add_option("--keys", child_keys)->required();
  mixed_child->add_option("--ops", child_ops)->required();
  mixed_child->add_option("--seed", child_seed)->required();
  CLI::App* spin_child = app.add_subcommand("child-spin")->group("");
  spin_child->add_option("--ops", child_ops)->required();
  spin_child->add_option("--seed", child_seed)->required();
  CLI11_PARSE(app, argc, argv);

  if (*spin_child) return ucache::bench::SpinChildMain(child_ops, child_seed);
  if (*open_child || *mixed_child) {
    const StoreKind* kind = ucache::bench::FindStore(child_store);
    if (kind == nullptr) return 2;
    return *open_child
               ? ucache::bench::OpenChildMain(*kind, child_dir, child_key)
               : ucache::bench::MixedChildMain(*kind, child_dir, child_keys,
                                               child_ops, child_seed);
  }

  for (const std::string& name : store_names) {
    const StoreKind* kind = ucache::bench::FindStore(name);
    if (kind == nullptr) {
      std::fprintf(stderr, "compare: no store named %s\n", name.c_str());
      return 2;
    }
    config.stores.push_back(kind);
  }
  std::error_code ec;
  std::filesystem::create_directories(config.dir, ec);
  if (ec) {
    std::fprintf(stderr, "compare: %s: %s\n", config.dir.c_str(),
                 ec.message().c_str());
    return 2;
  }

  const std::set<int> wanted(workloads.begin(), workloads.end());
  if (wanted.count(1)) ucache::bench::RunSmallValues(config);
  if (wanted.count(2)) ucache::bench::RunLargeValues(config);
  if (wanted.count(3)) ucache::bench::RunOpen(config);
  if (wanted.count(4)) ucache::bench::RunTwoProcesses(config);
  if (wanted.count(5)) ucache::bench::RunCompaction(config);
  if (wanted.count(6)) {
    RunMemoize(memoize_compare, memoize_script, memoize_n, config);
  }
  std::filesystem::remove_all(config.dir, ec);
  return 0;
}
