"""ucache_fuzzer: a libFuzzer target that is also a corpus regression test."""

load("@rules_cc//cc:defs.bzl", "cc_binary")
load("//bazel:copts.bzl", "UCACHE_TEST_COPTS")

def ucache_fuzzer(name, srcs, deps = []):
    """Declares the fuzzer `name` and the test `name`_test.

    With --config=fuzz (clang), `name` is a libFuzzer binary:
        bazel build --config=fuzz //fuzz:NAME
        bazel-bin/fuzz/NAME -max_total_time=60 CORPUS_COPY fuzz/corpus/NAME
    Otherwise (any compiler) it is linked with standalone_main.cc, which runs
    each file or directory given on the command line through the target once.
    Either way `name`_test runs every input of fuzz/corpus/NAME/ through it,
    so each crash that was ever found and fixed stays fixed.

    Args:
      name: the fuzzer; its seeds live in fuzz/corpus/NAME/.
      srcs: sources defining LLVMFuzzerTestOneInput.
      deps: what they use.
    """
    cc_binary(
        name = name,
        testonly = True,
        srcs = srcs,
        copts = UCACHE_TEST_COPTS,
        linkopts = select({
            ":libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = deps + select({
            ":libfuzzer": [],
            "//conditions:default": [":standalone_main"],
        }),
    )
    native.sh_test(
        name = name + "_test",
        size = "small",
        srcs = ["run_corpus.sh"],
        args = [
            "$(location :%s)" % name,
            "fuzz/corpus/" + name,
        ],
        data = [":" + name] + native.glob(["corpus/%s/*" % name]),
    )
