#!/bin/sh
# The long soak: the SIGKILL crash loops of crash_test, the multi-process
# scenarios of multiprocess_test and the model-based model_stress_test, the
# same test bodies that bazel test runs for seconds, run for
# UCACHE_SOAK_SECONDS in all (default 600): a third on the two crash loops, a
# third on the three multi-process scenarios, a third on the model test. Each
# test prints a SUMMARY line with its kills, operations and wrong values.
# Usage: soak_test.sh CRASH_TEST MULTIPROCESS_TEST MODEL_STRESS_TEST
#   bazel test //tests:soak_test --test_env=UCACHE_SOAK_SECONDS=3600 \
#     --test_timeout=4000 --test_output=streamed
set -eu
crash_test="$1"
multiprocess_test="$2"
model_stress_test="$3"
total="${UCACHE_SOAK_SECONDS:-600}"
per_crash_loop=$((total / 6))
per_scenario=$((total / 9))
per_model=$((total / 3))
echo "soak: ${total} s: ${per_crash_loop} s per crash loop," \
  "${per_scenario} s per multi-process scenario, ${per_model} s of the model test"

# Every run goes on after a failure, so that one soak reports every test.
rc=0
UCACHE_CRASH_SECONDS="${per_crash_loop}" "${crash_test}" \
  --gtest_filter='CrashTest.Sigkill*' || rc=1
UCACHE_SOAK_SECONDS="${per_scenario}" "${multiprocess_test}" \
  --gtest_filter='MultiProcessTest.FourProcessesMixedOperations:MultiProcessTest.CompactionLoopWhileOthersReadAndWrite:MultiProcessTest.KilledWriterNeverBlocksOthers' || rc=1
UCACHE_MODEL_SECONDS="${per_model}" "${model_stress_test}" || rc=1
exit "${rc}"
