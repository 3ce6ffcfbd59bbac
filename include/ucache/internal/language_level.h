// Every public header includes this one: ucache's headers are C++20 (memoize's
// templates use template lambdas, for one), and a consumer that compiles them
// in an older mode would otherwise see pages of errors from deep inside the
// templates instead of the one line that names the fix.
//
// ucache's own targets carry -std=c++20 themselves (Bazel: bazel/copts.bzl;
// CMake: the ucache::ucache target requires cxx_std_20), so this can only
// fire for the consumer's own sources.

#ifndef UCACHE_INTERNAL_LANGUAGE_LEVEL_H_
#define UCACHE_INTERNAL_LANGUAGE_LEVEL_H_

#if !defined(__cplusplus) || __cplusplus < 202002L
#error \
    "ucache needs C++20: compile the code that includes ucache headers with -std=c++20 (Bazel: copts = [\"-std=c++20\"] on your target, or build --cxxopt=-std=c++20 in .bazelrc; CMake: linking ucache::ucache adds it)"
#endif

#endif  // UCACHE_INTERNAL_LANGUAGE_LEVEL_H_
