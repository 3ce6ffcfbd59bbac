// A main() for fuzz targets built without libFuzzer (e.g. with gcc): runs
// every file named on the command line, and every file below every directory
// named there, through LLVMFuzzerTestOneInput once, in name order. Arguments
// starting with '-' are libFuzzer flags and are ignored, so one command line
// serves both builds. This is how the seed corpus (and every crash input that
// was fixed) runs as a plain regression test, and how a crash input found
// elsewhere is replayed under a debugger:
//   bazel run //fuzz:record_fuzzer -- /path/to/crash-input

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// Appends `path`, or the regular files below it, to *files.
bool Collect(const std::filesystem::path& path,
             std::vector<std::filesystem::path>* files) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(
             path, std::filesystem::directory_options::follow_directory_symlink,
             ec)) {
      if (entry.is_regular_file(ec)) files->push_back(entry.path());
    }
  } else if (std::filesystem::is_regular_file(path, ec)) {
    files->push_back(path);
  } else {
    std::fprintf(stderr, "%s: not a file or directory\n", path.c_str());
    return false;
  }
  return !ec;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] == '-') continue;
    if (!Collect(argv[i], &files)) return 2;
  }
  std::sort(files.begin(), files.end());
  uint64_t bytes = 0;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::string input{std::istreambuf_iterator<char>(in), {}};
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "%s: cannot read\n", file.c_str());
      return 2;
    }
    // A heap copy of exactly the input's size, as libFuzzer passes it, so
    // that a sanitizer sees any read past its end.
    std::unique_ptr<uint8_t[]> copy(new uint8_t[input.size()]);
    std::copy(input.begin(), input.end(), copy.get());
    std::fprintf(stderr, "running %s (%zu bytes)\n", file.c_str(),
                 input.size());
    LLVMFuzzerTestOneInput(copy.get(), input.size());
    bytes += input.size();
  }
  std::printf("%zu inputs (%llu bytes) ran without a crash\n", files.size(),
              static_cast<unsigned long long>(bytes));
  return files.empty() ? 1 : 0;
}
