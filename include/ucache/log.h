// LogSink: where the tiers' warnings go (Options::log, RemoteOptions::log).

#ifndef UCACHE_LOG_H_
#define UCACHE_LOG_H_

#include <functional>
#include <string_view>

#include "ucache/internal/language_level.h"

namespace ucache {

enum class LogLevel { kInfo, kWarning };
// Receives the selector's messages: one warning when a tier cannot serve,
// one line when it recovers. Called from whichever thread noticed; must be
// thread-safe.
using LogSink = std::function<void(LogLevel level, std::string_view message)>;

}  // namespace ucache

#endif  // UCACHE_LOG_H_
