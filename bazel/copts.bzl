"""Compiler flags shared by every ucache target."""

UCACHE_COPTS = [
    "-Wall",
    "-Wextra",
    "-Werror=return-type",
]

# Tests reach private headers under src/ and tests/.
UCACHE_TEST_COPTS = UCACHE_COPTS + ["-Wno-sign-compare"]
