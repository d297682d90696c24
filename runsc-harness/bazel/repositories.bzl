"""Repository rules for the offline Bazel build.

Everything the WORKSPACE build needs beyond Bazel itself and Debian's
bazel-skylib and bazel-rules-java packages is materialised under
third_party/materialised/ by runsc-harness/bazel/setup.sh: the patched
rules_go, the Go SDK with a precompiled standard library, the Go module
dependencies and two stand-in repositories. Nothing here fetches.
"""

SETUP = "runsc-harness/bazel/setup.sh"

def _materialised_repository_impl(rctx):
    root = rctx.path(Label("//:WORKSPACE")).dirname
    src = root
    for part in rctx.attr.path.split("/"):
        src = src.get_child(part)
    stamp = src.get_child(".materialised")
    if not stamp.exists:
        fail("%s is missing or incomplete: run %s first" % (src, SETUP))
    if rctx.attr.version:
        got = rctx.read(stamp).strip()
        if not got.startswith(rctx.attr.version + " "):
            fail("%s holds %r, WORKSPACE wants %s: run %s again" % (src, got, rctx.attr.version, SETUP))
    for child in src.readdir():
        rctx.symlink(child, child.basename)

materialised_repository = repository_rule(
    implementation = _materialised_repository_impl,
    attrs = {
        "path": attr.string(
            mandatory = True,
            doc = "Directory relative to the workspace root, written by setup.sh.",
        ),
        "version": attr.string(
            doc = "When set, the first word of the tree's .materialised stamp must equal it.",
        ),
    },
    local = True,
    doc = "A repository setup.sh materialised in the workspace; a clear error when it did not.",
)

def materialised_go_modules(names):
    """Declares one repository per Go module, as gendeps wrote them.

    Args:
      names: gazelle-style repository names (org_golang_x_sys, ...).
    """
    for name in names:
        materialised_repository(
            name = name,
            path = "third_party/materialised/go_deps/" + name,
        )
