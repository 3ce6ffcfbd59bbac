// Timing and reporting for //bench:compare: a monotonic clock shared by every
// process (so a parent can line up its children's intervals), the median of
// repeated measurements, number formats, and a markdown table that pastes
// straight into BENCHMARKS.md.

#ifndef UCACHE_BENCH_COMPARISON_REPORT_H_
#define UCACHE_BENCH_COMPARISON_REPORT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ucache/status.h"

namespace ucache::bench {

// CLOCK_MONOTONIC in nanoseconds: the same clock in every process.
int64_t NowNanos();

// Prints "compare: <context>: <status>" to stderr and exits with status 2
// unless `s` is OK. A benchmark cannot go on without its store.
void CheckOk(const Status& s, std::string_view context);

// The median of `xs` (the mean of the middle two for an even count); 0 when
// empty.
double Median(std::vector<double> xs);

// 6712345 -> "6.71M", 571000 -> "571k", 950 -> "950".
std::string FormatCount(double x);
// Nanoseconds -> "812 ns", "41.2 µs", "3.10 ms", "1.25 s".
std::string FormatNanos(double ns);
// 1.5 -> "1.50x"; "-" when the ratio is undefined (a zero denominator).
std::string FormatRatio(double numerator, double denominator);

// A markdown table under a "### title" heading, with an optional note
// printed under it.
class Table {
 public:
  Table(std::string title, std::vector<std::string> columns);
  void AddRow(std::vector<std::string> cells);
  void AddNote(std::string note);
  // Prints the table to stdout.
  void Print() const;

 private:
  std::string title_;
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::string> notes_;
};

}  // namespace ucache::bench

#endif  // UCACHE_BENCH_COMPARISON_REPORT_H_
