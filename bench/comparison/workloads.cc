#include "bench/comparison/workloads.h"

#include <lz4.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/comparison/child_process.h"
#include "bench/comparison/data.h"
#include "bench/comparison/limit_table.h"
#include "bench/comparison/report.h"
#include "bench/scratch_dir.h"

namespace ucache::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// The name every ratio is relative to.
constexpr std::string_view kUs = "fcache";

std::unique_ptr<Store> OpenOrDie(const StoreKind& kind,
                                 const std::string& dir) {
  Result<std::unique_ptr<Store>> store = kind.open(dir);
  CheckOk(store.status(), std::string(kind.name) + " open " + dir);
  return std::move(*store);
}

// config.dir/<workload>-<store>, emptied. Says on stderr what runs next, so
// that a long run shows its progress.
std::string FreshDir(const Config& config, std::string_view workload,
                     const StoreKind& kind) {
  const std::string name = std::string(workload) + "-" + std::string(kind.name);
  std::fprintf(stderr, "compare: %s\n", name.c_str());
  const std::string dir = config.dir + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

// Bytes allocated on disk under `dir` (sparse holes not counted).
uint64_t DiskBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st;
    if (lstat(entry.path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      total += uint64_t(st.st_blocks) * 512;
    }
  }
  return total;
}

std::string FormatMiB(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MiB", bytes / kMiB);
  return buf;
}

// `n` uniformly random numbers below `bound`, the same in every run.
std::vector<uint32_t> RandomIndices(uint64_t n, uint64_t bound, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<uint64_t> pick(0, bound - 1);
  std::vector<uint32_t> out(n);
  for (uint32_t& i : out) i = static_cast<uint32_t>(pick(rng));
  return out;
}

// Puts keys[i] -> values[i + salt] for every `step`th key (i = step - 1,
// 2 * step - 1, ...); returns the seconds taken.
double TimePuts(Store& store, const Keys& keys, const Values& values,
                uint64_t salt = 0, uint64_t step = 1) {
  const int64_t start = NowNanos();
  for (uint64_t i = step - 1; i < keys.size(); i += step) {
    CheckOk(store.Put(keys[i], values[i + salt]), "put");
  }
  return (NowNanos() - start) / 1e9;
}

// Reads keys[order[i]] for every i, copying (or, with `view`, viewing) the
// value; returns the seconds taken.
double TimeGets(Reader& reader, const Keys& keys,
                const std::vector<uint32_t>& order, bool view) {
  std::string value;
  std::string_view viewed;
  const int64_t start = NowNanos();
  for (uint32_t i : order) {
    CheckOk(view ? reader.View(keys[i], &viewed) : reader.Get(keys[i], &value),
            view ? "view" : "get");
  }
  return (NowNanos() - start) / 1e9;
}

// Reads back a spread of keys untimed: a store that loses or garbles values
// must not post a time.
void CheckValues(Reader& reader, const Keys& keys, const Values& values,
                 uint64_t salt = 0) {
  std::string value;
  const uint64_t step = std::max<uint64_t>(1, keys.size() / 100);
  for (uint64_t i = 0; i < keys.size(); i += step) {
    CheckOk(reader.Get(keys[i], &value), "check get");
    if (value != values[i + salt]) {
      CheckOk(Status::Corruption("value of key " + std::to_string(i) +
                                 " differs from what was put"),
              "check");
    }
  }
}

// The index of fcache among the selected stores, or -1.
int UsIndex(const Config& config) {
  for (size_t i = 0; i < config.stores.size(); ++i) {
    if (config.stores[i]->name == kUs) return static_cast<int>(i);
  }
  return -1;
}

std::string RepeatNote(const Config& config) {
  return "Median of " + std::to_string(config.repeats) +
         " runs; ratio = fcache / peer throughput (above 1: fcache faster).";
}

// LZ4's own speed on workload 2's compressible values, the limit of fcache's
// compressible gets: seconds to decompress `order.size()` of them into one
// reused buffer. 64 of the values are compressed first, untimed: about 26
// MiB of blocks, near this machine's 32 MiB L3, so part of what LZ4 reads is
// cached where fcache's reads of an 823 MiB log are not; the limit is a
// generous one.
double TimeLz4Decompress(const Values& values,
                         const std::vector<uint32_t>& order) {
  constexpr uint32_t kSample = 64;
  const int bound = LZ4_compressBound(static_cast<int>(values.value_bytes()));
  std::vector<std::string> compressed(kSample);
  for (uint32_t i = 0; i < kSample; ++i) {
    compressed[i].resize(static_cast<size_t>(bound));
    const int n =
        LZ4_compress_default(values[i].data(), compressed[i].data(),
                             static_cast<int>(values.value_bytes()), bound);
    if (n <= 0) CheckOk(Status::IOError("LZ4 compression failed"), "lz4");
    compressed[i].resize(static_cast<size_t>(n));
  }
  std::string out(values.value_bytes(), '\0');
  const auto start = std::chrono::steady_clock::now();
  for (uint32_t i : order) {
    const std::string& in = compressed[i % kSample];
    const int n =
        LZ4_decompress_safe(in.data(), out.data(), static_cast<int>(in.size()),
                            static_cast<int>(out.size()));
    if (n != static_cast<int>(out.size())) {
      CheckOk(Status::Corruption("LZ4 decompression failed"), "lz4");
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

// One store's samples of workloads 1 and 2, one entry per repetition.
struct PutGetSamples {
  std::vector<double> put_s, get_s, view_s;
  uint64_t disk_bytes = 0;
  bool has_view = false;
};

// One repetition of put-all / random-gets (and, with `views`, zero-copy
// reads where the store has them) on a fresh store.
void PutGetOnce(const Config& config, std::string_view workload,
                const StoreKind& kind, const Keys& keys, const Values& values,
                const std::vector<uint32_t>& order, bool views,
                PutGetSamples* samples) {
  const std::string dir = FreshDir(config, workload, kind);
  {
    std::unique_ptr<Store> store = OpenOrDie(kind, dir);
    PrimePages(dir, uint64_t{keys.size()} * values.value_bytes());
    samples->put_s.push_back(TimePuts(*store, keys, values));
    std::unique_ptr<Reader> reader = store->NewReader();
    CheckValues(*reader, keys, values);
    samples->get_s.push_back(TimeGets(*reader, keys, order, false));
    std::string_view probe;
    samples->has_view = views && reader->View(keys[0], &probe).ok();
    if (samples->has_view) {
      samples->view_s.push_back(TimeGets(*reader, keys, order, true));
    }
    samples->disk_bytes = DiskBytes(dir);
  }
  std::filesystem::remove_all(dir);
}

// This machine's floor for a get from a store larger than its caches:
// nanoseconds per dependent load (each address read from the line before,
// in one random cycle) over a heap buffer of kFloorBytes, in 4 KiB pages
// like the stores' mappings. A get must load at least its value's line
// this way; how many such loads a store's get costs is what its layout
// decides.
constexpr uint64_t kFloorBytes = 64 << 20;

double DependentLoadNanos() {
  struct alignas(64) Line {
    uint64_t next;
  };
  const uint64_t n = kFloorBytes / sizeof(Line);
  std::vector<uint64_t> order(n);
  for (uint64_t i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(7));
  std::vector<Line> lines(n);
  for (uint64_t i = 0; i < n; ++i) lines[order[i]].next = order[(i + 1) % n];
  constexpr uint64_t kLoads = 1'000'000;
  uint64_t at = order[0];
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < kLoads; ++i) at = lines[at].next;
  const auto end = std::chrono::steady_clock::now();
  asm volatile("" : : "r"(at));  // the chain's end is used
  return std::chrono::duration<double, std::nano>(end - start).count() / kLoads;
}

}  // namespace

void RunSmallValues(const Config& config) {
  const Keys keys(config.small_keys);
  const Values values = Values::Incompressible(config.small_value_bytes);
  const std::vector<uint32_t> order =
      RandomIndices(config.small_gets, config.small_keys, 1);
  std::vector<PutGetSamples> samples(config.stores.size());
  // The layouts a store could choose, measured without the store: the
  // first is the limit the "one-load table / store" column divides by.
  struct Limit {
    const char* name;
    LimitTable table;
    std::vector<double> get_s;
  };
  using Layout = LimitTable::Layout;
  Limit limits[] = {
      {"one-load table (limit)", {keys, values, Layout::kOneLoad, false}, {}},
      {"one-load table, verified", {keys, values, Layout::kOneLoad, true}, {}},
      {"two-load table", {keys, values, Layout::kTwoLoads, false}, {}},
      {"two-load table, verified", {keys, values, Layout::kTwoLoads, true}, {}},
  };
  for (Limit& limit : limits) CheckValues(limit.table, keys, values);
  for (int rep = 0; rep < config.repeats; ++rep) {
    for (size_t s = 0; s < config.stores.size(); ++s) {
      PutGetOnce(config, "w1", *config.stores[s], keys, values, order,
                 /*views=*/false, &samples[s]);
    }
    for (Limit& limit : limits) {
      limit.get_s.push_back(TimeGets(limit.table, keys, order, false));
    }
  }

  char title[160];
  std::snprintf(title, sizeof(title),
                "Workload 1: %" PRIu64
                " keys x %zu-byte values, put all, "
                "then %" PRIu64 " uniformly random copying gets",
                config.small_keys, config.small_value_bytes, config.small_gets);
  std::vector<double> load_ns;
  for (int rep = 0; rep < config.repeats; ++rep) {
    load_ns.push_back(DependentLoadNanos());
  }
  const double load = Median(load_ns);
  const double limit_get = config.small_gets / Median(limits[0].get_s);
  Table table(title,
              {"store", "put ops/s", "get ops/s", "put ratio", "get ratio",
               "get / dependent load", "one-load table / store", "on disk"});
  const int us = UsIndex(config);
  auto rate = [&](size_t s, const std::vector<double> PutGetSamples::*field,
                  uint64_t n) { return n / Median(samples[s].*field); };
  for (size_t s = 0; s < config.stores.size(); ++s) {
    const double put = rate(s, &PutGetSamples::put_s, config.small_keys);
    const double get = rate(s, &PutGetSamples::get_s, config.small_gets);
    const double us_put =
        us < 0 ? 0 : rate(us, &PutGetSamples::put_s, config.small_keys);
    const double us_get =
        us < 0 ? 0 : rate(us, &PutGetSamples::get_s, config.small_gets);
    table.AddRow({std::string(config.stores[s]->name), FormatCount(put),
                  FormatCount(get), FormatRatio(us_put, put),
                  FormatRatio(us_get, get), FormatRatio(1e9 / get, load),
                  FormatRatio(limit_get, get),
                  FormatMiB(samples[s].disk_bytes)});
  }
  for (const Limit& limit : limits) {
    const double get = config.small_gets / Median(limit.get_s);
    table.AddRow(
        {limit.name, "-", FormatCount(get), "-",
         us < 0 ? "-"
                : FormatRatio(
                      rate(us, &PutGetSamples::get_s, config.small_gets), get),
         FormatRatio(1e9 / get, load), FormatRatio(limit_get, get),
         "in memory"});
  }
  table.AddNote(RepeatNote(config) +
                " Keys are 16 random bytes (XXH3-128), values random bytes.");
  table.AddNote(
      "This machine's own floor in the same run: one dependent load"
      " from a " +
      std::to_string(kFloorBytes >> 20) +
      " MiB buffer of 4 KiB pages (each address read by the load"
      " before) took " +
      FormatNanos(load) +
      ". \"get / dependent load\": a get's time in such loads.");
  table.AddNote(
      "The tables are layouts without a store (bench/comparison/"
      "limit_table.h), in memory, with no lock and no check but the"
      " checksum. One-load: key and value together in one slot at the"
      " key's hash, the limit of any store that finds a value by its key's"
      " hash (a get reads the harness's key, then the slot), so \"one-load"
      " table / store\" is the most a hash store's get ratio against that"
      " store can be on this machine. Two-load: fcache's layout, a slot"
      " naming a record in fcache's format. Verified: each get checksums"
      " what it copies, as fcache's does.");
  table.Print();
}

void RunLargeValues(const Config& config) {
  const Keys keys(config.large_keys);
  const Values random = Values::Incompressible(config.large_value_bytes);
  const Values text = Values::Compressible(config.large_value_bytes);
  const std::vector<uint32_t> order =
      RandomIndices(config.large_gets, config.large_keys, 2);
  const StoreKind* fcache = FindStore(kUs);
  const bool with_us = UsIndex(config) >= 0;
  // The rows: every store on random values, then fcache on compressible
  // ones to show what LZ4 does.
  std::vector<PutGetSamples> samples(config.stores.size() + 1);
  std::vector<double> lz4_s;
  for (int rep = 0; rep < config.repeats; ++rep) {
    for (size_t s = 0; s < config.stores.size(); ++s) {
      PutGetOnce(config, "w2", *config.stores[s], keys, random, order,
                 /*views=*/true, &samples[s]);
    }
    if (with_us) {
      PutGetOnce(config, "w2-text", *fcache, keys, text, order,
                 /*views=*/true, &samples.back());
      lz4_s.push_back(TimeLz4Decompress(text, order));
    }
  }

  const double mib = config.large_value_bytes / kMiB;
  auto mbps = [&](const std::vector<double>& seconds, uint64_t n) {
    return seconds.empty() ? 0 : n * mib / Median(seconds);
  };
  char title[160];
  std::snprintf(title, sizeof(title),
                "Workload 2: %" PRIu64
                " keys x %.0f KiB values, put all, "
                "then %" PRIu64 " random gets (MiB/s)",
                config.large_keys, config.large_value_bytes / 1024.0,
                config.large_gets);
  Table table(title, {"store", "put MiB/s", "get MiB/s", "view MiB/s",
                      "put ratio", "get ratio", "on disk"});
  const int us = UsIndex(config);
  double us_put = 0, us_get = 0, us_view = 0, lmdb_get = 0;
  if (us >= 0) {
    us_put = mbps(samples[us].put_s, config.large_keys);
    us_get = mbps(samples[us].get_s, config.large_gets);
    us_view = mbps(samples[us].view_s, config.large_gets);
  }
  for (size_t s = 0; s < samples.size(); ++s) {
    if (s == config.stores.size() && !with_us) break;
    const bool text_row = s == config.stores.size();
    const double put = mbps(samples[s].put_s, config.large_keys);
    const double get = mbps(samples[s].get_s, config.large_gets);
    const double view = mbps(samples[s].view_s, config.large_gets);
    if (!text_row && config.stores[s]->name == "LMDB") lmdb_get = get;
    table.AddRow({text_row ? "fcache (compressible values)"
                           : std::string(config.stores[s]->name),
                  FormatCount(put), FormatCount(get),
                  samples[s].has_view ? FormatCount(view) : "-",
                  text_row ? "-" : FormatRatio(us_put, put),
                  text_row ? "-" : FormatRatio(us_get, get),
                  FormatMiB(samples[s].disk_bytes)});
  }
  table.AddNote(RepeatNote(config) +
                " Values are random bytes unless marked compressible. A view"
                " is a read that hands out the stored bytes without copying"
                " (fcache GetView, which first verifies the record's"
                " checksum; LMDB's mdb_get pointer, which is not verified).");
  if (us_view > 0 && lmdb_get > 0) {
    table.AddNote("fcache zero-copy view / LMDB copying get: " +
                  FormatRatio(us_view, lmdb_get) + ".");
  }
  if (!lz4_s.empty()) {
    const double lz4 = mbps(lz4_s, config.large_gets);
    const double text_get = mbps(samples.back().get_s, config.large_gets);
    table.AddNote(
        "LZ4 alone (LZ4_decompress_safe of the compressible values"
        " into a reused buffer): " +
        FormatCount(lz4) + " MiB/s; fcache's compressible get / LZ4 alone: " +
        FormatRatio(text_get, lz4) + ".");
  }
  table.Print();
}

void RunOpen(const Config& config) {
  const Values values = Values::Incompressible(100);
  const Keys keys(config.open_keys);
  std::vector<double> median_ns(config.stores.size());
  std::vector<uint64_t> disk(config.stores.size());
  for (size_t s = 0; s < config.stores.size(); ++s) {
    const StoreKind& kind = *config.stores[s];
    const std::string dir = FreshDir(config, "w3", kind);
    {
      std::unique_ptr<Store> store = OpenOrDie(kind, dir);
      TimePuts(*store, keys, values);
    }
    disk[s] = DiskBytes(dir);
    // One child first to bring the files into the page cache, untimed.
    std::vector<double> ns;
    for (int rep = -1; rep < config.repeats; ++rep) {
      auto child = ChildProcess::Spawn(
          {"child-open", "--store", std::string(kind.name), "--dir", dir,
           "--key", std::to_string(config.open_keys / 2)});
      CheckOk(child.status(), "spawn");
      Result<std::string> line = (*child)->ReadLine();
      CheckOk(line.status(), "child-open");
      CheckOk((*child)->Wait(), "child-open");
      if (rep >= 0) ns.push_back(std::stod(*line));
    }
    median_ns[s] = Median(ns);
    std::filesystem::remove_all(dir);
  }

  char title[160];
  std::snprintf(title, sizeof(title),
                "Workload 3: open + first get of a store of %" PRIu64
                " entries, in a fresh process, page cache warm",
                config.open_keys);
  Table table(title, {"store", "open + get", "ratio", "on disk"});
  const int us = UsIndex(config);
  for (size_t s = 0; s < config.stores.size(); ++s) {
    table.AddRow({std::string(config.stores[s]->name),
                  FormatNanos(median_ns[s]),
                  us < 0 ? "-" : FormatRatio(median_ns[s], median_ns[us]),
                  FormatMiB(disk[s])});
  }
  table.AddNote("Median of " + std::to_string(config.repeats) +
                " exec'd child processes, each timing its own open and"
                " first get (after one untimed child that warms the page"
                " cache); ratio = peer time / fcache time.");
  table.Print();
}

namespace {

struct MixedResult {
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint64_t ops = 0;
};

// Runs one child per entry of `each` at once, each that subcommand of this
// binary with its own --seed (MixedChildMain, SpinChildMain), and returns
// their aggregate operations per second, from the first start to the last
// end.
double RunChildren(const std::vector<std::vector<std::string>>& each, int rep) {
  const std::vector<std::string>& args = each.front();
  std::vector<std::unique_ptr<ChildProcess>> children;
  for (size_t p = 0; p < each.size(); ++p) {
    std::vector<std::string> child_args = each[p];
    child_args.push_back("--seed");
    child_args.push_back(std::to_string(rep * 16 + p));
    auto child = ChildProcess::Spawn(child_args);
    CheckOk(child.status(), "spawn");
    children.push_back(std::move(*child));
  }
  // Every child is ready (has opened the store) before any starts.
  for (auto& child : children) CheckOk(child->ReadLine().status(), "ready");
  for (auto& child : children) CheckOk(child->WriteLine("go"), "go");
  MixedResult total{INT64_MAX, 0, 0};
  for (auto& child : children) {
    Result<std::string> line = child->ReadLine();
    CheckOk(line.status(), args.front());
    MixedResult r;
    if (std::sscanf(line->c_str(), "%" SCNd64 " %" SCNd64 " %" SCNu64,
                    &r.start_ns, &r.end_ns, &r.ops) != 3) {
      CheckOk(Status::IOError("bad line: " + *line), args.front());
    }
    total.start_ns = std::min(total.start_ns, r.start_ns);
    total.end_ns = std::max(total.end_ns, r.end_ns);
    total.ops += r.ops;
    CheckOk(child->Wait(), args.front());
  }
  return total.ops / ((total.end_ns - total.start_ns) / 1e9);
}

// Waits for the parent's "go" after printing "ready"; false when it never
// comes.
bool AwaitGo() {
  std::printf("ready\n");
  std::fflush(stdout);
  std::string go;
  return static_cast<bool>(std::getline(std::cin, go));
}

// Iterations of SpinChildMain's loop per workload 4 operation: about 80 ms
// of computation in all at the default size.
constexpr uint64_t kSpinsPerOp = 128;

}  // namespace

void RunTwoProcesses(const Config& config) {
  const Values values = Values::Incompressible(100);
  const Keys keys(config.mixed_keys);
  // Operations per second of one process, of two on one store, and of two
  // on a store each (what the store's own code scales to when nothing is
  // shared), per store.
  std::vector<double> one(config.stores.size()), two(config.stores.size()),
      apart(config.stores.size());
  for (size_t s = 0; s < config.stores.size(); ++s) {
    const StoreKind& kind = *config.stores[s];
    // Every timed phase starts on a store just filled with every key, so
    // that no phase inherits the dead records of the phases before it: on
    // one reused store, fcache's automatic compaction came due inside a
    // later repeat's two-process phase and was measured as its puts.
    // `stores` of them, shared by `processes` children in turn (one store
    // for all, or one each).
    auto phase = [&](int processes, int stores, int rep) {
      std::vector<std::string> dirs;
      for (int d = 0; d < stores; ++d) {
        dirs.push_back(FreshDir(config, "w4-" + std::to_string(d), kind));
        std::unique_ptr<Store> store = OpenOrDie(kind, dirs.back());
        TimePuts(*store, keys, values);
      }
      // The page-cache pages the children's puts take (records of about
      // twice the value's size, and the log's reservation ahead).
      PrimePages(dirs.front(),
                 (2 * processes * config.mixed_ops + config.mixed_keys) *
                     values.value_bytes());
      std::vector<std::vector<std::string>> each;
      for (int p = 0; p < processes; ++p) {
        each.push_back({"child-mixed", "--store", std::string(kind.name),
                        "--dir", dirs[static_cast<size_t>(p % stores)],
                        "--keys", std::to_string(config.mixed_keys), "--ops",
                        std::to_string(config.mixed_ops)});
      }
      const double ops = RunChildren(each, rep);
      for (const std::string& dir : dirs) std::filesystem::remove_all(dir);
      return ops;
    };
    std::vector<double> one_samples, two_samples, apart_samples;
    for (int rep = 0; rep < config.repeats; ++rep) {
      one_samples.push_back(phase(1, 1, rep));
      if (kind.multi_process) two_samples.push_back(phase(2, 1, rep));
      apart_samples.push_back(phase(2, 2, rep));
    }
    one[s] = Median(one_samples);
    two[s] = Median(two_samples);
    apart[s] = Median(apart_samples);
  }
  // What a second process can gain on this machine at all, measured beside
  // the stores: a shared VM's second vCPU may be partly taken by the host.
  const std::vector<std::string> spin = {
      "child-spin", "--ops", std::to_string(config.mixed_ops * kSpinsPerOp)};
  std::vector<double> spin_one, spin_two;
  for (int rep = 0; rep < config.repeats; ++rep) {
    spin_one.push_back(RunChildren({spin}, rep));
    spin_two.push_back(RunChildren({spin, spin}, rep));
  }

  char title[160];
  std::snprintf(title, sizeof(title),
                "Workload 4: 50%% gets / 50%% puts of 100-byte values over "
                "%" PRIu64 " keys, %" PRIu64 " operations per process",
                config.mixed_keys, config.mixed_ops);
  Table table(title, {"store", "1 process ops/s", "2 processes ops/s", "2 / 1",
                      "ratio (2 processes)", "2 apart / 1"});
  const int us = UsIndex(config);
  for (size_t s = 0; s < config.stores.size(); ++s) {
    const bool multi = config.stores[s]->multi_process;
    table.AddRow({std::string(config.stores[s]->name), FormatCount(one[s]),
                  multi ? FormatCount(two[s]) : "n/a (single-process)",
                  multi ? FormatRatio(two[s], one[s]) : "-",
                  multi && us >= 0 ? FormatRatio(two[us], two[s]) : "-",
                  FormatRatio(apart[s], one[s])});
  }
  table.AddNote(RepeatNote(config) +
                " Each process is an exec'd child with its own handle; the"
                " aggregate is all operations over the span from the first"
                " start to the last end. Every run starts on a store just"
                " filled with every key. RocksDB and LevelDB lock their"
                " directory, so only one process can open a store. \"2 apart"
                " / 1\": two processes on a store each, against one; what"
                " the store's code scales to here with nothing shared.");
  table.AddNote(
      "This machine's own ceiling in the same run: two processes "
      "of pure computation (no store, no memory traffic) ran " +
      FormatRatio(Median(spin_two), Median(spin_one)) +
      " the operations per second of one.");
  table.Print();
}

namespace {

// What a reader thread saw while the store was compacted: how long each get
// took, by the phase it began in.
struct ReaderLog {
  std::vector<int64_t> idle_ns;
  std::vector<int64_t> compacting_ns;

  void Append(const ReaderLog& other) {
    idle_ns.insert(idle_ns.end(), other.idle_ns.begin(), other.idle_ns.end());
    compacting_ns.insert(compacting_ns.end(), other.compacting_ns.begin(),
                         other.compacting_ns.end());
  }
};

// The time within which the fraction `q` of `ns` fell (the longest at 1).
int64_t Quantile(std::vector<int64_t> ns, double q) {
  if (ns.empty()) return 0;
  const size_t at = std::min(
      ns.size() - 1, static_cast<size_t>(q * static_cast<double>(ns.size())));
  std::nth_element(ns.begin(), ns.begin() + at, ns.end());
  return ns[at];
}

enum Phase : int { kIdle, kCompacting, kDone };

// Reads random keys until `phase` is kDone, timing each get.
void ReadDuringCompaction(Reader* reader, const Keys& keys,
                          const std::atomic<int>* phase, ReaderLog* log) {
  std::mt19937_64 rng(3);
  std::string value;
  for (;;) {
    const int p = phase->load(std::memory_order_acquire);
    if (p == kDone) break;
    const std::string_view key = keys[rng() % keys.size()];
    const int64_t start = NowNanos();
    CheckOk(reader->Get(key, &value), "get during compaction");
    const int64_t took = NowNanos() - start;
    (p == kIdle ? log->idle_ns : log->compacting_ns).push_back(took);
  }
}

}  // namespace

void RunCompaction(const Config& config) {
  const Values values = Values::Incompressible(config.compact_value_bytes);
  const Keys keys(config.compact_keys);
  // Every other key is overwritten before each compaction, so half of what
  // was written since the last one is dead.
  const double live_mib =
      keys.size() * (16.0 + config.compact_value_bytes) / kMiB;

  struct Row {
    bool supported = true;
    std::string why;
    double mibps = 0;
    ReaderLog gets;  // every run's
  };
  std::vector<Row> rows(config.stores.size());
  for (size_t s = 0; s < config.stores.size(); ++s) {
    const StoreKind& kind = *config.stores[s];
    const std::string dir = FreshDir(config, "w5", kind);
    {
      std::unique_ptr<Store> store = OpenOrDie(kind, dir);
      TimePuts(*store, keys, values);
      std::vector<double> seconds;
      for (int rep = 0; rep < config.repeats && rows[s].supported; ++rep) {
        TimePuts(*store, keys, values, keys.size() * (rep + 1), /*step=*/2);
        std::unique_ptr<Reader> reader = store->NewReader();
        std::atomic<int> phase{kIdle};
        ReaderLog log;
        std::thread thread(ReadDuringCompaction, reader.get(), std::cref(keys),
                           &phase, &log);
        // A quiet spell first: the reader's gets without compaction.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        phase.store(kCompacting, std::memory_order_release);
        const int64_t start = NowNanos();
        Status status = store->Compact();
        const int64_t end = NowNanos();
        phase.store(kDone, std::memory_order_release);
        thread.join();
        if (status.code() == Status::Code::kUnsupported) {
          rows[s].supported = false;
          rows[s].why = std::string(status.message());
          break;
        }
        CheckOk(status, std::string(kind.name) + " compact");
        seconds.push_back((end - start) / 1e9);
        rows[s].gets.Append(log);
      }
      if (rows[s].supported) rows[s].mibps = live_mib / Median(seconds);
    }
    std::filesystem::remove_all(dir);
  }

  char title[200];
  std::snprintf(title, sizeof(title),
                "Workload 5: compaction of %" PRIu64
                " live %zu-byte values "
                "(%.0f MiB) after overwriting half, with a reader thread",
                config.compact_keys, config.compact_value_bytes, live_mib);
  Table table(title, {"store", "compaction MiB/s (live)", "ratio",
                      "reader gets during", "p99.9 get during", "p99.9 idle",
                      "longest during", "longest idle"});
  const int us = UsIndex(config);
  for (size_t s = 0; s < config.stores.size(); ++s) {
    const Row& row = rows[s];
    const std::string name(config.stores[s]->name);
    if (!row.supported) {
      table.AddRow(
          {name, "n/a (" + row.why + ")", "-", "-", "-", "-", "-", "-"});
      continue;
    }
    table.AddRow({name, FormatCount(row.mibps),
                  us < 0 || !rows[us].supported
                      ? "-"
                      : FormatRatio(rows[us].mibps, row.mibps),
                  FormatCount(row.gets.compacting_ns.size()),
                  FormatNanos(Quantile(row.gets.compacting_ns, 0.999)),
                  FormatNanos(Quantile(row.gets.idle_ns, 0.999)),
                  FormatNanos(Quantile(row.gets.compacting_ns, 1.0)),
                  FormatNanos(Quantile(row.gets.idle_ns, 1.0))});
  }
  table.AddNote(
      "Compaction MiB/s: median of " + std::to_string(config.repeats) +
      " compactions, each after overwriting the odd keys. Gets: by a reader"
      " thread with its own Reader, while compacting and in the 200 ms before"
      " (its noise floor on this shared 2-core machine), over all runs; p99.9"
      " and the longest single get. fcache: FileCache::Compact (online)."
      " LMDB: mdb_env_copy2(MDB_CP_COMPACT) to a scratch copy (LMDB reuses"
      " free pages and has no online compaction). RocksDB, LevelDB:"
      " CompactRange over all keys. SQLite: VACUUM.");
  table.Print();
}

int OpenChildMain(const StoreKind& kind, const std::string& dir, uint64_t key) {
  const std::string k = KeyOf(key);
  const int64_t start = NowNanos();
  std::unique_ptr<Store> store = OpenOrDie(kind, dir);
  std::unique_ptr<Reader> reader = store->NewReader();
  std::string value;
  CheckOk(reader->Get(k, &value), "first get");
  const int64_t end = NowNanos();
  std::printf("%" PRId64 "\n", end - start);
  return 0;
}

int MixedChildMain(const StoreKind& kind, const std::string& dir, uint64_t keys,
                   uint64_t ops, uint64_t seed) {
  const Values values = Values::Incompressible(100);
  const Keys all(keys);
  std::unique_ptr<Store> store = OpenOrDie(kind, dir);
  std::unique_ptr<Reader> reader = store->NewReader();
  std::mt19937_64 rng(seed);
  std::string value;
  if (!AwaitGo()) return 2;
  const int64_t start = NowNanos();
  for (uint64_t i = 0; i < ops; ++i) {
    const uint64_t r = rng();
    const uint64_t k = (r >> 1) % keys;
    if (r & 1) {
      CheckOk(store->Put(all[k], values[r >> 20]), "put");
    } else {
      CheckOk(reader->Get(all[k], &value), "get");
    }
  }
  const int64_t end = NowNanos();
  std::printf("%" PRId64 " %" PRId64 " %" PRIu64 "\n", start, end, ops);
  return 0;
}

int SpinChildMain(uint64_t ops, uint64_t seed) {
  if (!AwaitGo()) return 2;
  const int64_t start = NowNanos();
  uint64_t x = seed;
  for (uint64_t i = 0; i < ops; ++i) {
    // splitmix64: a few dependent multiplies, all in registers.
    x += 0x9e3779b97f4a7c15;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    x ^= z ^ (z >> 31);
  }
  const int64_t end = NowNanos();
  // Printed, so that the loop cannot be optimized away; the parent reads
  // only the first three numbers.
  std::printf("%" PRId64 " %" PRId64 " %" PRIu64 " %" PRIu64 "\n", start, end,
              ops, x);
  return 0;
}

}  // namespace ucache::bench
