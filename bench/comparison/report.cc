#include "bench/comparison/report.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace ucache::bench {

int64_t NowNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void CheckOk(const Status& s, std::string_view context) {
  if (s.ok()) return;
  std::fprintf(stderr, "compare: %.*s: %s\n", static_cast<int>(context.size()),
               context.data(), s.ToString().c_str());
  std::exit(2);
}

double Median(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  const size_t mid = xs.size() / 2;
  return xs.size() % 2 == 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

std::string FormatCount(double x) {
  char buf[32];
  if (x >= 1e9) {
    std::snprintf(buf, sizeof(buf), "%.2fG", x / 1e9);
  } else if (x >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.2fM", x / 1e6);
  } else if (x >= 1e4) {
    std::snprintf(buf, sizeof(buf), "%.0fk", x / 1e3);
  } else if (x >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.1fk", x / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f", x);
  }
  return buf;
}

std::string FormatNanos(double ns) {
  char buf[32];
  if (ns >= 1e9) {
    std::snprintf(buf, sizeof(buf), "%.2f s", ns / 1e9);
  } else if (ns >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.2f ms", ns / 1e6);
  } else if (ns >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.1f µs", ns / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f ns", ns);
  }
  return buf;
}

std::string FormatRatio(double numerator, double denominator) {
  if (denominator <= 0 || numerator <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2fx", numerator / denominator);
  return buf;
}

Table::Table(std::string title, std::vector<std::string> columns)
    : title_(std::move(title)), columns_(std::move(columns)) {}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

void Table::AddNote(std::string note) { notes_.push_back(std::move(note)); }

void Table::Print() const {
  auto print_row = [](const std::vector<std::string>& cells) {
    std::string line = "|";
    for (const std::string& cell : cells) line += " " + cell + " |";
    std::printf("%s\n", line.c_str());
  };
  std::printf("\n### %s\n\n", title_.c_str());
  print_row(columns_);
  print_row(std::vector<std::string>(columns_.size(), "---"));
  for (const auto& row : rows_) print_row(row);
  if (!notes_.empty()) std::printf("\n");
  for (const std::string& note : notes_) std::printf("%s\n", note.c_str());
  std::fflush(stdout);
}

}  // namespace ucache::bench
