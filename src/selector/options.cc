// The free functions of options.h: backend names, the default root of
// stores, and store paths by name.

#include "ucache/options.h"

#include <stdlib.h>

#include <cstdlib>
#include <string>

#include "src/selector/resolve.h"

namespace ucache {
namespace {

using selector_internal::EnvVar;

constexpr std::pair<Backend, std::string_view> kBackendNames[] = {
    {Backend::kAuto, "auto"},
    {Backend::kMemoryAndFile, "memory+file"},
    {Backend::kMemoryFileRemote, "memory+file+redis"},
    {Backend::kRemote, "redis"},
    {Backend::kMemory, "memory"},     {Backend::kFile, "file"},
    {Backend::kFallback, "fallback"}, {Backend::kDisabled, "disabled"},
};

bool ValidStoreName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// `dir` with its symlinks resolved, when it exists. A symlinked ~/.cache
// (moved to a bigger disk) is its owner's choice; the store's own
// directories below it must still not be symlinks (FileCache::Open).
std::string Real(const std::string& dir) {
  char* real = ::realpath(dir.c_str(), nullptr);
  if (real == nullptr) return dir;  // missing: created as named
  std::string resolved(real);
  std::free(real);
  return resolved;
}

}  // namespace

std::string_view BackendName(Backend backend) {
  for (const auto& [b, name] : kBackendNames) {
    if (b == backend) return name;
  }
  return "unknown";
}

std::optional<Backend> ParseBackend(std::string_view name) {
  for (const auto& [b, n] : kBackendNames) {
    if (n == name) return b;
  }
  return std::nullopt;
}

Result<std::string> DefaultRoot() {
  const std::string_view xdg = EnvVar("XDG_CACHE_HOME");
  // The XDG base directory spec: a relative path is invalid and ignored.
  if (!xdg.empty() && xdg.front() == '/') {
    return Real(std::string(xdg)) + "/ucache";
  }
  const std::string_view home = EnvVar("HOME");
  if (!home.empty()) return Real(std::string(home) + "/.cache") + "/ucache";
  return Status::NotFound(
      "no cache root: UCACHE_DIR, XDG_CACHE_HOME and HOME are all unset");
}

Result<std::string> StorePath(std::string_view name) {
  if (!ValidStoreName(name)) {
    return Status::InvalidArgument(
        "store name \"" + std::string(name) +
        "\": use 1 to 255 letters, digits, '.', '_' or '-', not starting "
        "with '.'");
  }
  std::string root(EnvVar("UCACHE_DIR"));
  if (root.empty()) {
    Result<std::string> r = DefaultRoot();
    if (!r.ok()) return r.status();
    root = std::move(*r);
  }
  return root + "/" + std::string(name);
}

}  // namespace ucache
