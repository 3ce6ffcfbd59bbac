// Writes the seed corpus of the fuzz targets: real stores built through the
// public API, cut into each target's input format (see the top of each
// *_fuzzer.cc). Seeds let a fuzzer start from well-formed files instead of
// discovering the format from nothing. Regenerate after a format change:
//   bazel run //fuzz:make_corpus -- "$PWD/fuzz/corpus"
// Bytes differ between runs (files record their creation time); the set of
// seeds and what each holds do not.

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "src/fcache/format.h"
#include "ucache/file_cache.h"

namespace ucache::fuzz {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "make_corpus: %s: %s\n", what.c_str(),
               s.ToString().c_str());
  std::exit(1);
}

// A value of `n` bytes; `text` ones compress well, the others do not.
std::string Value(int seed, size_t n, bool text) {
  std::string v;
  uint64_t x = 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(seed + 1);
  while (v.size() < n) {
    if (text) {
      v += "value " + std::to_string(seed) + "; ";
    } else {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      v.push_back(static_cast<char>(x));
    }
  }
  v.resize(n);
  return v;
}

// The stores the seeds are cut from: each a directory built by `build`.
struct Store {
  const char* name;
  Compression compression;
  void (*build)(FileCache& fc);
};

void Must(const Status& s, const char* what) {
  if (!s.ok()) Die(what, s);
}

const Store kStores[] = {
    {"raw", Compression::kNone,
     [](FileCache& fc) {
       Must(fc.Put("a", "1"), "put");
       Must(fc.Put("key/with/slashes", Value(1, 40, false)), "put");
       Must(fc.Put(std::string(100, 'k'), Value(2, 120, false)), "put");
       Must(fc.Put("empty", ""), "put");
     }},
    {"lz4", Compression::kLz4,
     [](FileCache& fc) {
       Must(fc.Put("text", Value(3, 900, true)), "put");
       Must(fc.Put("noise", Value(4, 300, false)), "put");
       Must(fc.Put("ttl", Value(5, 400, true), std::chrono::hours(1)), "put");
     }},
    {"lz4hc", Compression::kLz4Hc,
     [](FileCache& fc) { Must(fc.Put("hc", Value(6, 1200, true)), "put"); }},
    {"overwrite_erase", Compression::kLz4,
     [](FileCache& fc) {
       Must(fc.Put("k1", Value(7, 50, false)), "put");
       Must(fc.Put("k2", Value(8, 500, true)), "put");
       Must(fc.Put("k1", Value(9, 60, false)), "put");
       Must(fc.Erase("k2"), "erase");
       Must(fc.Put("k3", "v3"), "put");
     }},
    {"compacted", Compression::kLz4,
     [](FileCache& fc) {
       Must(fc.Put("old", Value(10, 80, false)), "put");
       Must(fc.Put("kept", Value(11, 700, true)), "put");
       Must(fc.Erase("old"), "erase");
       Must(fc.Compact(), "compact");
       Must(fc.Put("after", "compaction"), "put");
     }},
};

class Writer {
 public:
  explicit Writer(std::string root) : root_(std::move(root)) {}

  void Seed(const std::string& target, const std::string& name, uint8_t flags,
            const std::string& body) {
    const std::string dir = root_ + "/" + target;
    ::mkdir(root_.c_str(), 0755);
    ::mkdir(dir.c_str(), 0755);
    std::string input(1, static_cast<char>(flags));
    input += body;
    std::ofstream(dir + "/" + name, std::ios::binary | std::ios::trunc)
        << input;
    ++count_;
  }
  int count() const { return count_; }

 private:
  const std::string root_;
  int count_ = 0;
};

// One store file as an entry of a store_fuzzer input.
std::string Entry(uint8_t selector, const std::string& bytes) {
  std::string out(1, static_cast<char>(selector));
  const uint32_t n = static_cast<uint32_t>(bytes.size());
  out.push_back(static_cast<char>(n));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n >> 16));
  return out + bytes;
}

int Main(const std::string& root) {
  Writer out(root);
  for (const Store& store : kStores) {
    const std::string dir = ScratchDir() + "/" + store.name;
    FileCacheOptions options;
    options.compression = store.compression;
    options.compression_threshold = 64;
    {
      Result<std::unique_ptr<FileCache>> fc = FileCache::Open(dir, options);
      if (!fc.ok()) Die(dir, fc.status());
      store.build(**fc);
    }
    const std::string index = ReadFile(dir + "/index");
    uint64_t log_id = 0;
    std::memcpy(&log_id, index.data() + offsetof(fcache_internal::FilePrelude, log_id),
                sizeof(log_id));
    if (log_id < 1 || log_id > 2) {
      std::fprintf(stderr, "make_corpus: %s: unexpected log %llu\n", store.name,
                   static_cast<unsigned long long>(log_id));
      return 1;
    }
    const std::string log = ReadFile(dir + "/" + fcache_internal::LogFileName(log_id));
    const std::string name = store.name;
    const std::string body = log.substr(fcache_internal::kLogHeaderSize);
    // record_fuzzer: as is; sealed; sealed with each round-trip codec.
    out.Seed("record_fuzzer", name, 0, body);
    out.Seed("record_fuzzer", name + "_sealed_lz4", 1 | 2, body);
    out.Seed("record_fuzzer", name + "_sealed_hc", 1 | 4, body);
    // index_fuzzer: as is, and sealed, fitted and writable.
    out.Seed("index_fuzzer", name, 0, index);
    out.Seed("index_fuzzer", name + "_writable", 1 | 2 | 16, index);
    // store_fuzzer: the whole store, under each way of opening it.
    const std::string files = Entry(0, index) +
                              Entry(static_cast<uint8_t>(log_id), log) +
                              Entry(4, "");
    out.Seed("store_fuzzer", name, 1 | 2, files);
    out.Seed("store_fuzzer", name + "_read_only", 1 | 2 | 4, files);
    out.Seed("store_fuzzer", name + "_max_bytes", 1 | 2 | 8 | 16, files);
    out.Seed("store_fuzzer", name + "_log_only", 2,
             Entry(static_cast<uint8_t>(log_id), log));
    // The log and the lock file that notes its committed end: the open
    // recovers, reading the log no further than that end.
    out.Seed("store_fuzzer", name + "_log_and_lock", 2,
             Entry(static_cast<uint8_t>(log_id), log) +
                 Entry(4, ReadFile(dir + "/lock")));
  }
  // Degenerate inputs every target must survive.
  for (const char* target : {"record_fuzzer", "index_fuzzer", "store_fuzzer"}) {
    out.Seed(target, "empty", 0, "");
  }
  out.Seed("store_fuzzer", "empty_files", 0,
           Entry(0, "") + Entry(1, "") + Entry(3, ""));
  std::printf("wrote %d seeds under %s\n", out.count(), root.c_str());
  return 0;
}

}  // namespace
}  // namespace ucache::fuzz

int main(int argc, char** argv) {
  if (argc != 2 || argv[1][0] != '/') {
    std::fprintf(stderr, "usage: make_corpus /absolute/path/to/fuzz/corpus\n");
    return 2;
  }
  return ucache::fuzz::Main(argv[1]);
}
