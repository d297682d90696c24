"""@runsc_stock and @runsc_patched: runsc built by runsc-harness, not by Bazel.

runsc_repository calls

    go run ./runsc-harness build --gvisor VERSION --sets SETS --out DIR

in the main workspace, so Bazel never needs gVisor's own Bazel graph. The
harness resolves VERSION through the Go module proxy (or, offline, the
module cache), applies patches/ and builds with the machine's Go; its
results are cached under $RESTARTSYS_CACHE (default ~/.cache/restartsys),
keyed by gVisor version, series hash and Go version, so after the first
build (runsc-harness/bazel/setup.sh does it) a fetch takes seconds and needs
no network.

The repository holds one file, runsc, exported as @runsc_<kind>//:runsc.

The rule is local: Bazel runs it again whenever its server starts (and on
bazel sync), so a change to patches/ reaches the next Bazel server; within
one server, after editing patches/, run
    bazel sync --only=runsc_stock,runsc_patched
"""

def _runsc_repository_impl(rctx):
    root = rctx.path(Label("//:WORKSPACE")).dirname
    go = rctx.which("go")
    if not go:
        fail("runsc_repository: no go on PATH (runsc-harness builds runsc with the machine's Go)")
    out = rctx.path("bin")
    rctx.report_progress("runsc-harness build --gvisor %s (cached after the first build)" % rctx.attr.gvisor)
    res = rctx.execute(
        [go, "run", "./runsc-harness", "build", "--gvisor", rctx.attr.gvisor, "--sets", rctx.attr.sets, "--shim=false", "--out", str(out)],
        working_directory = str(root),
        timeout = rctx.attr.timeout,
        quiet = True,
    )
    if res.return_code != 0:
        fail("runsc_repository %s: runsc-harness build --gvisor %s failed (exit %d):\n%s\n%s" % (
            rctx.name,
            rctx.attr.gvisor,
            res.return_code,
            res.stdout,
            res.stderr,
        ))
    binary = out.get_child("runsc-" + rctx.attr.kind)
    if not binary.exists:
        fail("runsc_repository %s: runsc-harness build wrote no %s" % (rctx.name, binary))

    # Keep only this repository's binary (each is ~80 MB).
    rctx.execute(["mv", str(binary), "runsc"])
    rctx.delete("bin")
    rctx.file("WORKSPACE", 'workspace(name = "%s")\n' % rctx.name)
    rctx.file("BUILD.bazel", """# Written by runsc_repository (runsc-harness/bazel/runsc.bzl).
# {kind} runsc for gVisor {gvisor}, built by runsc-harness build.
exports_files(["runsc"], visibility = ["//visibility:public"])
""".format(kind = rctx.attr.kind, gvisor = rctx.attr.gvisor))

runsc_repository = repository_rule(
    implementation = _runsc_repository_impl,
    attrs = {
        "gvisor": attr.string(
            mandatory = True,
            doc = "gVisor version as runsc-harness build --gvisor takes it: a module version, a date or latest.",
        ),
        "sets": attr.string(
            default = "core",
            doc = "Patch sets of the patched runsc, as runsc-harness build --sets takes them; the stock one carries only the baseline (compat) set where its tree needs it.",
        ),
        "kind": attr.string(
            mandatory = True,
            values = ["stock", "patched"],
            doc = "Which of the two binaries this repository holds.",
        ),
        "timeout": attr.int(
            default = 3600,
            doc = "Seconds allowed for the build (a cold build of runsc takes minutes).",
        ),
    },
    environ = ["PATH", "HOME", "RESTARTSYS_CACHE", "GOPROXY", "GOFLAGS", "GOMODCACHE", "GOCACHE"],
    local = True,
    doc = "runsc (stock or patched) for one gVisor version, built by runsc-harness.",
)

def runsc_repositories(gvisor, sets = "core"):
    """Declares @runsc_stock and @runsc_patched for one gVisor version.

    Args:
      gvisor: the gVisor version (see runsc_repository).
      sets: the patch sets of the patched runsc (see runsc_repository).
    """
    runsc_repository(name = "runsc_stock", gvisor = gvisor, sets = sets, kind = "stock")
    runsc_repository(name = "runsc_patched", gvisor = gvisor, sets = sets, kind = "patched")
