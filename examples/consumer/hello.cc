// hello: the smallest program that uses ucache from another Bazel workspace.
//
// It opens a FileCache, stores a value, reads it back twice (copied, then
// without copying), and prints the store's statistics. Any failure is printed
// and ends the program with exit status 1.
//
//     bazel run //:hello            # a fresh store in a temporary directory,
//                                   # removed again at exit
//     bazel run //:hello -- DIR     # the store in DIR, kept

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "ucache/ucache.h"

namespace {

int Fail(std::string_view what, const ucache::Status& status) {
  std::fprintf(stderr, "hello: %.*s: %s\n", static_cast<int>(what.size()),
               what.data(), status.ToString().c_str());
  return 1;
}

int Run(const std::string& dir) {
  ucache::Result<std::unique_ptr<ucache::FileCache>> opened =
      ucache::FileCache::Open(dir);
  if (!opened.ok()) return Fail("open " + dir, opened.status());
  ucache::FileCache& cache = **opened;
  std::printf("opened store %s\n", cache.dir().c_str());

  const std::string key = "greeting";
  const std::string value = "hello from another workspace";
  ucache::Status s = cache.Put(key, value);
  if (!s.ok()) return Fail("put", s);

  std::string copy;
  s = cache.Get(key, &copy);
  if (!s.ok()) return Fail("get", s);
  if (copy != value) {
    std::fprintf(stderr, "hello: get returned \"%s\", want \"%s\"\n",
                 copy.c_str(), value.c_str());
    return 1;
  }
  std::printf("get %s -> \"%s\"\n", key.c_str(), copy.c_str());

  ucache::ValueView view;
  s = cache.GetView(key, &view);
  if (!s.ok()) return Fail("get view", s);
  if (view.data() != value) {
    std::fprintf(stderr, "hello: view differs from the value put\n");
    return 1;
  }
  std::printf("view %s -> %zu bytes (%s)\n", key.c_str(), view.size(),
              view.zero_copy() ? "zero-copy" : "decompressed copy");

  // A miss is a status, not an error.
  s = cache.Get("no such key", &copy);
  if (!s.IsNotFound()) return Fail("get of an absent key", s);
  std::printf("get \"no such key\" -> miss\n");

  ucache::Result<ucache::FileCacheStats> stats = cache.GetStats();
  if (!stats.ok()) return Fail("stats", stats.status());
  std::printf(
      "stats: entries=%llu live_bytes=%llu file_bytes=%llu dead_bytes=%llu "
      "generation=%llu compression_ratio=%.2f\n",
      static_cast<unsigned long long>(stats->entries),
      static_cast<unsigned long long>(stats->live_bytes),
      static_cast<unsigned long long>(stats->file_bytes),
      static_cast<unsigned long long>(stats->dead_bytes),
      static_cast<unsigned long long>(stats->generation),
      stats->compression_ratio());
  if (stats->entries < 1) {
    std::fprintf(stderr, "hello: stats count no entries after a put\n");
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2) {
    std::fprintf(stderr, "usage: hello [DIR]\n");
    return 2;
  }
  if (argc == 2) return Run(argv[1]);

  // No directory given: a private temporary one, removed at exit.
  std::error_code ec;
  std::filesystem::path tmp = std::filesystem::temp_directory_path(ec);
  if (ec) tmp = "/tmp";
  std::string root = (tmp / "ucache-hello-XXXXXX").string();
  if (mkdtemp(root.data()) == nullptr) {
    std::perror("hello: mkdtemp");
    return 1;
  }
  int rc = Run(root + "/store");
  std::filesystem::remove_all(root, ec);
  return rc;
}
