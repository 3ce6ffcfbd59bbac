#!/bin/sh
# Runs every seed of one fuzzer's corpus through it once: the regression test
# of a fuzz target. Usage: run_corpus.sh FUZZER CORPUS_DIR
# The same flags work for a libFuzzer build (-runs=0: run the inputs, do not
# mutate) and for standalone_main.cc (which ignores flags).
set -eu
fuzzer="$1"
corpus="$2"
count=$(find -L "$corpus" -type f | wc -l)
if [ "$count" -eq 0 ]; then
  echo "FAIL: no seeds in $corpus" >&2
  exit 1
fi
exec "$fuzzer" -runs=0 "$corpus"
