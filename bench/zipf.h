// Zipf-distributed ranks for the benchmarks: rank r of n is drawn with
// probability proportional to 1/(r+1)^alpha, by inverting a precomputed CDF
// (exact, O(log n) a draw).

#ifndef UCACHE_BENCH_ZIPF_H_
#define UCACHE_BENCH_ZIPF_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace ucache::bench {

class ZipfSampler {
 public:
  ZipfSampler(size_t n, double alpha) : cdf_(n) {
    double sum = 0;
    for (size_t r = 0; r < n; ++r) {
      sum += 1.0 / std::pow(static_cast<double>(r + 1), alpha);
      cdf_[r] = sum;
    }
    for (double& c : cdf_) c /= sum;
  }

  uint32_t operator()(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    if (it == cdf_.end()) --it;
    return static_cast<uint32_t>(it - cdf_.begin());
  }

 private:
  std::vector<double> cdf_;
};

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_ZIPF_H_
