"""Compiler flags shared by every ucache target."""

# The language level comes first and travels with every target, so that a
# workspace that uses @ucache//:ucache builds it whatever its own defaults
# (Bazel's are -std=c++0x; copts come after them on the command line).
UCACHE_COPTS = [
    "-std=c++20",
    "-Wall",
    "-Wextra",
    "-Werror=return-type",
    # Status and Result are [[nodiscard]]: a dropped one hides why something
    # failed. Where a failure really changes nothing, .IgnoreError() says so.
    "-Werror=unused-result",
]

# Tests reach private headers under src/ and tests/.
UCACHE_TEST_COPTS = UCACHE_COPTS + ["-Wno-sign-compare"]
