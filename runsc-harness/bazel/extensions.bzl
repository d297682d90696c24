"""The runsc module extension, for MODULE.bazel (Bazel 7+).

    runsc = use_extension("//runsc-harness/bazel:extensions.bzl", "runsc")
    runsc.version(gvisor = "...")
    use_repo(runsc, "runsc_stock", "runsc_patched")

Kept apart from runsc.bzl because module_extension and tag_class do not
exist in Bazel 4, whose WORKSPACE build loads runsc.bzl.
"""

load(":runsc.bzl", "runsc_repositories")

def _runsc_impl(mctx):
    gvisor = None
    for mod in mctx.modules:
        for v in mod.tags.version:
            if gvisor and gvisor != v.gvisor:
                fail("runsc extension: two gVisor versions asked for: %s and %s" % (gvisor, v.gvisor))
            gvisor = v.gvisor
    if not gvisor:
        fail("runsc extension: no runsc.version(gvisor = ...) tag")
    runsc_repositories(gvisor)

runsc = module_extension(
    implementation = _runsc_impl,
    tag_classes = {"version": tag_class(attrs = {"gvisor": attr.string(mandatory = True)})},
)
