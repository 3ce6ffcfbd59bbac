// Memoization of a numeric kernel, ucache against the Python tools people use
// for the job (joblib.Memory and diskcache, through bench/memoize_compare.py),
// in the same run on the same machine:
//
//   bazel run -c opt //bench:memoize_compare [-- --n=1000000 --reps=5]
//
// The kernel returns n float64 values (8 MB at the default n). For each tool:
// a miss (compute + store), a hit in the same process, a hit in a fresh
// process (timed inside the new process: opening the cache plus one call;
// process and interpreter start-up are not counted on either side), the
// zero-copy forms (ucache's view(), joblib's mmap_mode='r'), and a hit of a
// function of one small integer. Medians of --reps runs; small hits are a
// mean over many calls. The last columns are the ratios peer time / ucache
// time, and ucache time / the limit: a plain copy of the same bytes into a
// fresh std::vector, in this process and in a fresh one (what any copying
// hit must pay, page faults included).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench/comparison/child_process.h"
#include "bench/comparison/report.h"
#include "bench/scratch_dir.h"
#include "ucache/ucache.h"

namespace {

// The same function memoize_compare.py memoizes.
std::vector<double> Kernel(int n, int rep) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    v[static_cast<size_t>(i)] = std::sin(i * 0.001 + rep) * std::exp(-i * 1e-7);
  }
  return v;
}

int Small(int x) { return x * x; }

ucache::Options StoreOptions(const std::string& dir) {
  ucache::Options options;
  options.dir = dir;
  options.read_environment = false;
  options.file.compression = ucache::Compression::kNone;
  return options;
}

// Microseconds `f` takes.
template <class F>
double Time(F&& f) {
  const int64_t start = ucache::bench::NowNanos();
  f();
  return static_cast<double>(ucache::bench::NowNanos() - start) / 1e3;
}

// The limit of a copying hit: the same bytes copied into a fresh vector.
double PlainCopyUs(const std::vector<double>& source, double* sum) {
  return Time([&] {
    std::vector<double> copy(source.begin(), source.end());
    *sum += copy[copy.size() / 2];
  });
}

// Runs in a fresh process: open, one call (a copy, or a view), print µs; or
// (kind "plain") the plain copy of the kernel's result, computed untimed.
int Child(const std::string& dir, int n, const std::string& kind) {
  double sum = 0;
  double us = 0;
  if (kind == "plain") {
    us = PlainCopyUs(Kernel(n, 0), &sum);
  } else {
    us = Time([&] {
      auto cached = ucache::memoize("kernel/v1", Kernel, StoreOptions(dir));
      if (kind == "view") {
        sum = cached.view(n, 0)[static_cast<size_t>(n) / 2];
      } else {
        sum = cached(n, 0)[static_cast<size_t>(n) / 2];
      }
    });
  }
  std::printf("%.3f %g\n", us, sum);
  return 0;
}

// All the lines `child` prints, after checking that it exits cleanly.
std::vector<std::string> Lines(
    ucache::Result<std::unique_ptr<ucache::bench::ChildProcess>> child,
    std::string_view what) {
  ucache::bench::CheckOk(child.status(), what);
  std::vector<std::string> lines;
  for (;;) {
    ucache::Result<std::string> line = (*child)->ReadLine();
    if (!line.ok()) break;  // end of its output
    lines.push_back(std::move(*line));
  }
  ucache::bench::CheckOk((*child)->Wait(), what);
  return lines;
}

using Results = std::map<std::string, std::map<std::string, double>>;

void MeasureUcache(const std::string& dir, int n, int reps, int small_calls,
                   Results* results) {
  std::map<std::string, double>& r = (*results)["ucache"];
  auto cached = ucache::memoize("kernel/v1", Kernel, StoreOptions(dir));
  std::map<std::string, double>& limit = (*results)["copy"];
  const std::vector<double> kernel = Kernel(n, 0);
  double sum = 0;
  std::vector<double> misses, stores, store_copies, same, views, copies;
  std::map<std::string, std::vector<double>> fresh;
  // The store alone: a miss of a function whose work is one copy of the
  // result, less that copy, timed beside it: a host that makes fresh pages
  // dear for a while (the VM's balloon) makes both dear.
  auto copied = ucache::memoize(
      "copied/v1", [&](int, int) { return kernel; }, StoreOptions(dir));
  for (int rep = 0; rep < reps; ++rep) {
    misses.push_back(Time([&] { cached(n, rep); }));
    stores.push_back(Time([&] { sum += copied(n, rep)[0]; }));
    store_copies.push_back(PlainCopyUs(kernel, &sum));
  }
  for (int rep = 0; rep < reps; ++rep) {
    same.push_back(Time([&] { sum += cached(n, 0)[0]; }));
    views.push_back(Time([&] { sum += cached.view(n, 0)[0]; }));
    copies.push_back(PlainCopyUs(kernel, &sum));
  }
  for (int rep = 0; rep < reps; ++rep) {
    for (const char* kind : {"copy", "view", "plain"}) {
      const std::vector<std::string> out =
          Lines(ucache::bench::ChildProcess::Spawn(
                    {"--child", kind, "--dir", dir, "--n", std::to_string(n)}),
                "fresh-process hit");
      if (out.empty())
        ucache::bench::CheckOk(ucache::Status::IOError("no output"),
                               "fresh-process hit");
      fresh[kind].push_back(std::stod(out.front()));
    }
  }
  r["miss_us"] = ucache::bench::Median(misses);
  r["store_us"] = std::max(
      0.0, ucache::bench::Median(stores) - ucache::bench::Median(store_copies));
  r["hit_same_us"] = ucache::bench::Median(same);
  r["hit_zero_copy_same_us"] = ucache::bench::Median(views);
  r["hit_fresh_us"] = ucache::bench::Median(fresh["copy"]);
  r["hit_zero_copy_fresh_us"] = ucache::bench::Median(fresh["view"]);
  limit["store_us"] = ucache::bench::Median(store_copies);
  limit["hit_same_us"] = ucache::bench::Median(copies);
  limit["hit_fresh_us"] = ucache::bench::Median(fresh["plain"]);
  if (sum == 42) std::printf(" ");  // keeps the copies

  auto small = ucache::memoize("small/v1", Small, StoreOptions(dir));
  int sink = small(3);
  const double total = Time([&] {
    for (int i = 0; i < small_calls; ++i) sink += small(3);
  });
  r["small_hit_us"] = total / small_calls;
  if (sink == 42) std::printf(" ");  // keeps the loop
}

void MeasurePython(const std::string& python, const std::string& script,
                   const std::string& dir, int n, int reps, Results* results) {
  for (const std::string& line :
       Lines(ucache::bench::ChildProcess::SpawnProgram(
                 python, {script, "--dir", dir, "--n", std::to_string(n),
                          "--reps", std::to_string(reps)}),
             python + " " + script)) {
    std::istringstream fields(line);
    std::string tool, name;
    double value;
    if (fields >> tool >> name >> value) (*results)[tool][name] = value;
  }
}

void Print(const Results& results) {
  const char* kRows[][2] = {
      {"miss_us", "miss: compute + store"},
      {"store_us", "store of a miss (miss of f = one copy, less that copy)"},
      {"hit_same_us", "hit, same process (a copy)"},
      {"hit_fresh_us", "hit, fresh process (open + one call, a copy)"},
      {"hit_zero_copy_same_us", "zero-copy hit, same process"},
      {"hit_zero_copy_fresh_us", "zero-copy hit, fresh process"},
      {"small_hit_us", "hit of f(int) -> int"},
  };
  const char* kTools[] = {"ucache", "joblib", "diskcache", "copy"};
  auto value = [&](const char* tool, const char* row) -> double {
    auto t = results.find(tool);
    if (t == results.end()) return -1;
    auto v = t->second.find(row);
    return v == t->second.end() ? -1 : v->second;
  };
  std::printf(
      "\n| measurement (µs, median) | ucache | joblib | diskcache | plain "
      "copy | joblib / ucache | diskcache / ucache | ucache / plain copy "
      "|\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const auto& row : kRows) {
    std::printf("| %s |", row[1]);
    for (const char* tool : kTools) {
      const double v = value(tool, row[0]);
      if (v < 0) {
        std::printf(" - |");
      } else {
        std::printf(" %.3f |", v);
      }
    }
    const double u = value("ucache", row[0]);
    auto ratio = [](double num, double den) {
      if (num > 0 && den > 0) {
        std::printf(" %.2fx |", num / den);
      } else {
        std::printf(" - |");
      }
    };
    ratio(value("joblib", row[0]), u);
    ratio(value("diskcache", row[0]), u);
    ratio(u, value("copy", row[0]));
    std::printf("\n");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("memoization: ucache vs joblib and diskcache");
  int n = 1000000, reps = 5, small_calls = 1000000;
  std::string child, dir, python = "/usr/bin/python3",
                          script = "bench/memoize_compare.py";
  app.add_option("--n", n, "float64 values per result");
  app.add_option("--reps", reps, "runs per measurement (median)");
  app.add_option("--small-calls", small_calls, "calls of the small function");
  app.add_option("--python", python, "a python3 with joblib, diskcache, numpy");
  app.add_option("--script", script, "memoize_compare.py");
  app.add_option("--dir", dir,
                 "where the stores go (default: a new temp dir); its ucache/"
                 " and python/ are emptied first");
  app.add_option("--child", child,
                 "internal: copy|view|plain, one fresh-process hit");
  CLI11_PARSE(app, argc, argv);
  if (!child.empty()) return Child(dir, n, child);

  // Stores go under --dir, or a scratch directory removed at exit.
  std::optional<ucache::bench::ScratchDir> scratch;
  if (dir.empty()) dir = scratch.emplace("memoize_compare").path();
  std::printf("memoize_compare: n=%d (%.1f MB), reps=%d, stores under %s\n", n,
              n * 8 / 1e6, reps, dir.c_str());
  // A store left by an earlier run would turn every miss below into a hit.
  const std::string ucache_dir = dir + "/ucache", python_dir = dir + "/python";
  std::error_code error;
  for (const std::string& d : {ucache_dir, python_dir}) {
    std::filesystem::remove_all(d, error);
    if (error) break;
  }
  if (!error) std::filesystem::create_directories(dir, error);
  if (error) {
    std::fprintf(stderr, "memoize_compare: cannot prepare %s: %s\n",
                 dir.c_str(), error.message().c_str());
    return 1;
  }
  // Each tool's misses keep 2 * reps results (two functions, or two tools),
  // in the page cache and in memory: the pages they take come from memory
  // freed just before, which the VM's host has not taken back. Primed for
  // the page cache alone, the first run in a new --dir measured stores of
  // 10.9 ms against 1.8 ms in the next run; this host's fresh pages stay
  // dear after it, at times (BENCHMARKS.md).
  const uint64_t stored = uint64_t{8} * static_cast<uint64_t>(n) *
                          (4 * static_cast<uint64_t>(reps) + 4);
  Results results;
  ucache::bench::PrimePages(dir, stored);
  MeasureUcache(ucache_dir, n, reps, small_calls, &results);
  ucache::bench::PrimePages(dir, stored);
  MeasurePython(python, script, python_dir, n, reps, &results);
  Print(results);
  return 0;
}
