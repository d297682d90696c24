"""The runsc module extension, for MODULE.bazel (Bazel 7+).

    runsc = use_extension("//runsc-harness/bazel:extensions.bzl", "runsc")
    runsc.version(gvisor = "...", sets = "core,parity")
    use_repo(runsc, "runsc_stock", "runsc_patched")

Kept apart from runsc.bzl because module_extension and tag_class do not
exist in Bazel 4, whose WORKSPACE build loads runsc.bzl.
"""

load(":runsc.bzl", "runsc_repositories")

def _runsc_impl(mctx):
    gvisor, sets = None, None
    for mod in mctx.modules:
        for v in mod.tags.version:
            if gvisor and (gvisor, sets) != (v.gvisor, v.sets):
                fail("runsc extension: two versions asked for: %s (%s) and %s (%s)" % (gvisor, sets, v.gvisor, v.sets))
            gvisor, sets = v.gvisor, v.sets
    if not gvisor:
        fail("runsc extension: no runsc.version(gvisor = ...) tag")
    runsc_repositories(gvisor, sets)

runsc = module_extension(
    implementation = _runsc_impl,
    tag_classes = {"version": tag_class(attrs = {
        "gvisor": attr.string(mandatory = True),
        "sets": attr.string(default = "core"),
    })},
)
