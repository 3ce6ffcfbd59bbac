// Memoize a numeric kernel: the first run computes, every later run (and
// every other process on the machine) reads the 8 MB result from the store.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "ucache/ucache.h"

// Stands in for an expensive simulation: n samples of a damped oscillation.
std::vector<double> simulate(int n, double damping) {
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i)
    v[i] = std::exp(-damping * i / n) * std::sin(i * 0.01);
  return v;
}

int main(int argc, char** argv) {
  ucache::Options options;
  if (argc > 1)
    options.dir = argv[1];  // optional; default ~/.cache/ucache/default
  auto cached = ucache::memoize("simulate/v1", simulate, options);

  const auto start = std::chrono::steady_clock::now();
  std::vector<double> v = cached(1000000, 0.5);  // same signature as simulate
  const double ms = std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start)
                        .count();

  ucache::MemoizeStats stats = cached.stats();
  std::printf("%zu values, v[1000] = %.6f, %s in %.2f ms (backend %s)\n",
              v.size(), v[1000],
              stats.misses      ? "computed"
              : stats.file_hits ? "read from disk"
                                : "read from memory",
              ms, std::string(ucache::BackendName(stats.backend)).c_str());

  ucache::ArrayView<double> view = cached.view(1000000, 0.5);  // no copy
  return view.size() == v.size() && view[1000] == v[1000] ? 0 : 1;
}
