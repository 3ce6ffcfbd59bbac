#include "src/selector/resolve.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <cstring>
#include <string_view>

namespace ucache::selector_internal {
namespace {

// `dir` made absolute against the working directory now, so that a later
// chdir cannot move the store under an open cache: the file tier reopens
// files by path (a new generation, a per-key lock).
Result<std::string> Absolute(const std::string& dir) {
  if (dir.front() == '/') return dir;
  std::string cwd(4096, '\0');
  if (::getcwd(cwd.data(), cwd.size()) == nullptr) {
    return Status::IOError("resolving the relative store path " + dir +
                           ": getcwd: " + std::strerror(errno));
  }
  cwd.resize(std::strlen(cwd.c_str()));
  return (cwd == "/" ? "" : cwd) + "/" + dir;
}

}  // namespace

std::string_view EnvVar(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string_view() : std::string_view(v);
}

Resolved ResolveOptions(const Options& options) {
  Resolved r{options, Status::OK(), {}, {}};
  Options& o = r.options;
  std::string disabled_by = o.disable ? "options.disable" : "";
  std::string backend_by = "options.backend";
  if (o.read_environment) {
    const std::string_view disable = EnvVar("UCACHE_DISABLE");
    if (!disable.empty() && disable != "0") {
      o.disable = true;
      disabled_by = "UCACHE_DISABLE=" + std::string(disable);
    }
    const std::string_view backend = EnvVar("UCACHE_BACKEND");
    if (!backend.empty()) {
      if (std::optional<Backend> b = ParseBackend(backend)) {
        o.backend = *b;
        backend_by = "UCACHE_BACKEND=" + std::string(backend);
      } else {
        r.warnings.push_back(
            "UCACHE_BACKEND=" + std::string(backend) +
            " is not one of auto, memory+file+redis, memory+file, memory, "
            "file, redis, fallback, disabled; ignored");
      }
    }
    // Set and empty turns the tier off, so getenv, not EnvVar.
    if (const char* remote = std::getenv("UCACHE_REMOTE")) o.remote = remote;
    // StorePath reads UCACHE_DIR itself; an explicit dir yields to it.
    if (!EnvVar("UCACHE_DIR").empty()) o.dir.clear();
  }
  if (o.backend == Backend::kDisabled && !o.disable) {
    o.disable = true;
    disabled_by = backend_by;
  }
  r.decided_by = o.disable ? disabled_by : backend_by;
  Result<std::string> path =
      o.dir.empty() ? StorePath(o.store) : Result<std::string>(o.dir);
  if (path.ok()) path = Absolute(*path);
  if (path.ok()) {
    o.dir = std::move(*path);
  } else {
    o.dir.clear();
    r.dir_status = path.status();
  }
  return r;
}

}  // namespace ucache::selector_internal
