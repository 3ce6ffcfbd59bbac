// app: memoizes a function through an installed ucache, found by CMake's
// find_package(ucache). Two runs on one store: the first computes, the
// second reads the result from disk. Exit status 1 on a wrong result.
//
//     build/app DIR    # the store in DIR

#include <cstdio>
#include <string>
#include <vector>

#include "ucache/ucache.h"

std::vector<int> Squares(int n) {
  std::vector<int> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = i * i;
  return v;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: app DIR\n");
    return 2;
  }
  ucache::Options options;
  options.dir = argv[1];
  auto cached = ucache::memoize("squares/v1", Squares, options);
  const std::vector<int> v = cached(1000);
  const ucache::MemoizeStats stats = cached.stats();
  std::printf("squares(1000)[999] = %d, %s (backend %s: %s)\n", v[999],
              stats.misses ? "computed" : "read from the store",
              std::string(ucache::BackendName(stats.backend)).c_str(),
              stats.reason.c_str());
  return v == Squares(1000) ? 0 : 1;
}
