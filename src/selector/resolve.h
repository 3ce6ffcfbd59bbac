// ResolveOptions: Options as the code wrote them, plus the environment
// variables of options.h, minus the defaults left open: the options a Cache
// runs with.

#ifndef UCACHE_SRC_SELECTOR_RESOLVE_H_
#define UCACHE_SRC_SELECTOR_RESOLVE_H_

#include <string>
#include <string_view>
#include <vector>

#include "ucache/options.h"
#include "ucache/status.h"

namespace ucache::selector_internal {

struct Resolved {
  Options options;  // dir resolved and absolute, or empty with dir_status
                    // saying why
  Status dir_status;
  std::vector<std::string> warnings;  // ignored environment variables
  // What decided the backend, for Cache::active_reason(): when disabled,
  // "UCACHE_DISABLE=<value>", "options.disable", or whichever of the two
  // below asked for kDisabled; otherwise "UCACHE_BACKEND=<value>" or
  // "options.backend".
  std::string decided_by;
};

Resolved ResolveOptions(const Options& options);

// The value of environment variable `name`, or empty when unset.
std::string_view EnvVar(const char* name);

}  // namespace ucache::selector_internal

#endif  // UCACHE_SRC_SELECTOR_RESOLVE_H_
