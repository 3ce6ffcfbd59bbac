#!/bin/sh
# The long soak: the SIGKILL crash loops of crash_test and the multi-process
# scenarios of multiprocess_test, the same test bodies that bazel test runs
# for seconds, run for UCACHE_SOAK_SECONDS in all (default 600): half on the
# two crash loops, half on the three multi-process scenarios. Each test
# prints a SUMMARY line with its kills, operations and wrong values.
# Usage: soak_test.sh CRASH_TEST MULTIPROCESS_TEST
#   bazel test //tests:soak_test --test_env=UCACHE_SOAK_SECONDS=3600 \
#     --test_timeout=4000 --test_output=streamed
set -eu
crash_test="$1"
multiprocess_test="$2"
total="${UCACHE_SOAK_SECONDS:-600}"
per_crash_loop=$((total / 4))
per_scenario=$((total / 6))
echo "soak: ${total} s: ${per_crash_loop} s per crash loop," \
  "${per_scenario} s per multi-process scenario"

UCACHE_CRASH_SECONDS="${per_crash_loop}" "${crash_test}" \
  --gtest_filter='CrashTest.Sigkill*'
UCACHE_SOAK_SECONDS="${per_scenario}" "${multiprocess_test}" \
  --gtest_filter='MultiProcessTest.FourProcessesMixedOperations:MultiProcessTest.CompactionLoopWhileOthersReadAndWrite:MultiProcessTest.KilledWriterNeverBlocksOthers'
