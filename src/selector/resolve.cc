#include "src/selector/resolve.h"

#include <cstdlib>
#include <string>
#include <string_view>

namespace ucache::selector_internal {
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
            " is not one of auto, memory+file, memory, file, fallback, "
            "disabled; ignored");
      }
    }
    // StorePath reads UCACHE_DIR itself; an explicit dir yields to it.
    if (!EnvVar("UCACHE_DIR").empty()) o.dir.clear();
  }
  if (o.backend == Backend::kDisabled && !o.disable) {
    o.disable = true;
    disabled_by = backend_by;
  }
  r.decided_by = o.disable ? disabled_by : backend_by;
  if (o.dir.empty()) {
    Result<std::string> path = StorePath(o.store);
    if (path.ok()) {
      o.dir = std::move(*path);
    } else {
      r.dir_status = path.status();
    }
  }
  return r;
}

}  // namespace ucache::selector_internal
