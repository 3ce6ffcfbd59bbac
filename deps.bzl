"""ucache_deps(): every external repository ucache needs, offline.

A consumer workspace writes:

    local_repository(name = "ucache", path = "...")
    load("@ucache//:deps.bzl", "ucache_deps")
    ucache_deps()

Everything comes from Debian packages (see README.md) or from this tree, so
nothing is downloaded. Each repository is declared only if the workspace has
not declared it already, so a consumer may bring its own.
"""

def _in_tree_repository_impl(ctx):
    # Links every entry of the directory holding `workspace_file` into the
    # repository; used for the small stand-ins kept under third_party/.
    root = ctx.path(ctx.attr.workspace_file).dirname
    for child in root.readdir():
        ctx.symlink(child, child.basename)

_in_tree_repository = repository_rule(
    implementation = _in_tree_repository_impl,
    attrs = {"workspace_file": attr.label(allow_single_file = True)},
    local = True,
)

# name -> BUILD file under third_party/ for headers in /usr/include. The
# last four are the stores bench/compare measures ucache against; only bench/
# depends on them, never //:ucache.
_SYSTEM_LIBRARIES = {
    "benchmark": "benchmark.BUILD",
    "cereal": "cereal.BUILD",
    "cli11": "cli11.BUILD",
    "gtest": "gtest.BUILD",
    "hiredis": "hiredis.BUILD",
    "lz4": "lz4.BUILD",
    "xxhash": "xxhash.BUILD",
    "leveldb": "leveldb.BUILD",
    "lmdb": "lmdb.BUILD",
    "rocksdb": "rocksdb.BUILD",
    "sqlite3": "sqlite3.BUILD",
}

def ucache_deps():
    """Declares the repositories ucache builds and tests with."""
    if not native.existing_rule("rules_java"):
        native.local_repository(
            name = "rules_java",
            path = "/usr/share/bazel/rules/java",
        )
    if not native.existing_rule("platforms"):
        native.local_repository(
            name = "platforms",
            path = "/usr/share/bazel/tools/platforms",
        )
    if not native.existing_rule("rules_cc"):
        _in_tree_repository(
            name = "rules_cc",
            workspace_file = Label("//third_party/rules_cc:WORKSPACE"),
        )
    if not native.existing_rule("remote_coverage_tools"):
        _in_tree_repository(
            name = "remote_coverage_tools",
            workspace_file = Label("//third_party/remote_coverage_tools:WORKSPACE"),
        )
    for name, build_file in _SYSTEM_LIBRARIES.items():
        if not native.existing_rule(name):
            native.new_local_repository(
                name = name,
                path = "/usr/include",
                build_file = str(Label("//third_party:" + build_file)),
            )
