"""syscall_test: one guest program, run natively and under stock and patched runsc.

In the style of gVisor's syscall_test (test/runner/defs.bzl): one
declaration

    syscall_test(name = "bootstrap_storm", guest = ":storm", cases = [...])

expands, per platform P, into

    bootstrap_storm_native                 tags: native
    bootstrap_storm_runsc_stock_P          tags: runsc_P, stock
    bootstrap_storm_runsc_patched_P        tags: runsc_P, patched

plus _network_sandbox variants (tag network_sandbox) when network = True,
and a test_suite bootstrap_storm of all of them. Every variant is tagged
local and no-sandbox, as gVisor's are: runsc needs root, real namespaces and
short paths, which Bazel's sandbox does not give. Variants for
manual_platforms are also tagged manual (declared, listed by bazel query,
not run by //...). Select with e.g.

    bazel test --test_tag_filters=runsc_systrap,patched //syscalltests/...

The test executable is //runsc-harness/bazel/guesttest: each runsc variant
runs the guest natively and under runsc and compares the two reports cell
by cell. native and patched variants pass only if nothing diverges; stock
variants pass only if exactly the shapes a case lists in stock_diverges
diverge (the test proves it can see the known bug). The cases are spread
over shard_count shards (TEST_TOTAL_SHARDS, TEST_SHARD_INDEX). JUnit XML
goes to $XML_OUTPUT_FILE.

The runsc binaries are @runsc_stock//:runsc and @runsc_patched//:runsc
(runsc-harness/bazel/runsc.bzl), for the gVisor version WORKSPACE names.
"""

PLATFORMS = ["systrap"]
MANUAL_PLATFORMS = ["ptrace"]

# Labels of this repository, resolved here so that the macros also work
# when another workspace loads this file from @restartsys.
_RUNNER = str(Label("//runsc-harness/bazel/guesttest"))
_RUNSC = {
    "patched": "@runsc_patched//:runsc",
    "stock": "@runsc_stock//:runsc",
}

def static_c_guest(name, srcs):
    """A C guest, static and threaded, as runsc-harness's guest builder
    builds it (internal/guests cFlags: -static -O2 -pthread): it runs inside
    a sandbox with nothing but itself."""
    native.cc_binary(
        name = name,
        srcs = srcs,
        copts = [
            "-O2",
            "-pthread",
        ],
        linkopts = [
            "-static",
            "-pthread",
        ],
        linkstatic = True,
        visibility = ["//visibility:public"],
    )

def _case(c):
    for k in c.keys():
        if k not in ["name", "args", "native_args", "stock_diverges", "stock_may_diverge"]:
            fail("syscall_test case %r: unknown key %r" % (c.get("name"), k))
    if not c.get("name"):
        fail("syscall_test case without a name: %r" % c)
    return {
        "args": c.get("args", []),
        "name": c["name"],
        "native_args": c.get("native_args", []),
        "stock_diverges": c.get("stock_diverges", []),
        "stock_may_diverge": c.get("stock_may_diverge", False),
    }

def syscall_test(
        name,
        guest,
        cases,
        guest_name = None,
        expected = None,
        platforms = PLATFORMS,
        manual_platforms = MANUAL_PLATFORMS,
        network = False,
        shard_count = None,
        size = "medium",
        run_timeout = None,
        tags = [],
        **kwargs):
    """Declares the native, stock-runsc and patched-runsc variants of a guest.

    Args:
      name: base name of the variants and of their test_suite.
      guest: label of the guest binary (a static go_binary or cc_binary).
      cases: list of dicts, one run of the guest each: name; args (every
        mode); native_args (appended in the native variant only);
        stock_diverges, the shapes stock runsc is known to get wrong in this
        case on the gVisor version of @runsc_stock (each must diverge); and
        stock_may_diverge, True when stock runsc may diverge elsewhere too.
      guest_name: the guest's name in runsc-harness's guest registry
        (internal/guests), which says what it needs: capabilities, PID and
        mount namespaces natively, a FIFO made on the host. Default: the
        name of the guest label.
      expected: label of the guest's expected.json: divergences from Linux
        that no patch fixes yet (per kind, stock or patched); an entry that
        no longer diverges fails the test.
      platforms: runsc platforms whose variants //... runs.
      manual_platforms: runsc platforms whose variants are tagged manual.
      network: also declare variants with runsc --network=sandbox.
      shard_count: shards per variant (default: one per case).
      size: test size of every variant.
      run_timeout: the harness's deadline of each run of the guest (a Go
        duration; guesttest's default is 3m); raise Bazel's timeout with it.
      tags: extra tags for every variant.
      **kwargs: passed to every test (timeout, flaky, ...).
    """
    cases_json = json.encode([_case(c) for c in cases])

    # Test args are split like a Bourne shell command line and expanded
    # like make variables: single quotes keep the JSON whole.
    if "'" in cases_json or "$" in cases_json:
        fail("syscall_test %s: no ' or $ in cases" % name)
    if shard_count == None:
        shard_count = len(cases)
    if guest_name == None:
        guest_name = guest.split(":")[-1].split("/")[-1]
    common = ["-guest", "$(rootpath %s)" % guest, "-name", guest_name, "-cases", "'%s'" % cases_json]
    data = [guest]
    if expected:
        common += ["-expected", "$(rootpath %s)" % expected]
        data.append(expected)
    if run_timeout:
        common += ["-timeout", run_timeout]
    _declare(
        name,
        runner = _RUNNER,
        native_args = ["-mode", "native"] + common,
        runsc_args = ["-mode", _KIND, "-platform", _PLATFORM, "-network", _NETWORK, "-runsc", _RUNSC_PATH] + common,
        data = data,
        platforms = platforms,
        manual_platforms = manual_platforms,
        networks = [("", "none"), ("_network_sandbox", "sandbox")] if network else [("", "none")],
        size = size,
        shard_count = shard_count,
        tags = tags,
        kwargs = kwargs,
    )

# Placeholders in _declare's runsc_args, replaced per variant.
_KIND = "@KIND@"
_PLATFORM = "@PLATFORM@"
_NETWORK = "@NETWORK@"
_RUNSC_PATH = "@RUNSC@"

def _declare(name, runner, native_args, runsc_args, data, platforms, manual_platforms, networks, size, shard_count, tags, kwargs):
    """Declares NAME_native, NAME_runsc_KIND_PLATFORM[_NETWORK] and the suite NAME.

    Every variant runs runner; the runsc ones get runsc_args with the
    placeholders _KIND, _PLATFORM, _NETWORK and _RUNSC_PATH replaced.
    """
    base_tags = tags + ["local", "no-sandbox"]
    native.sh_test(
        name = name + "_native",
        srcs = [runner],
        args = native_args,
        data = data,
        size = size,
        shard_count = shard_count,
        tags = base_tags + ["native"],
        **kwargs
    )
    variants = [name + "_native"]
    for platform in platforms + manual_platforms:
        for kind in ["stock", "patched"]:
            for suffix, net in networks:
                variant = "%s_runsc_%s_%s%s" % (name, kind, platform, suffix)
                vtags = base_tags + ["runsc_" + platform, kind]
                if net != "none":
                    vtags.append("network_" + net)
                if platform in manual_platforms:
                    vtags.append("manual")
                subst = {
                    _KIND: kind,
                    _NETWORK: net,
                    _PLATFORM: platform,
                    _RUNSC_PATH: "$(rootpath %s)" % _RUNSC[kind],
                }
                native.sh_test(
                    name = variant,
                    srcs = [runner],
                    args = [subst.get(a, a) for a in runsc_args],
                    data = data + [_RUNSC[kind]],
                    size = size,
                    shard_count = shard_count,
                    tags = vtags,
                    **kwargs
                )
                if platform not in manual_platforms:
                    variants.append(variant)
    native.test_suite(
        name = name,
        tests = variants,
        tags = ["manual"],
    )

_EXEC_RUNNER = str(Label("//runsc-harness/bazel/runsctest"))

def runsc_test(
        name,
        test,
        platforms = PLATFORMS,
        manual_platforms = MANUAL_PLATFORMS,
        stock_fails = False,
        shard_count = None,
        size = "medium",
        tags = [],
        **kwargs):
    """Runs any test target natively and under stock and patched runsc.

    As gVisor's syscall_test runs a gtest binary, this runs the executable of
    any test target (cc_test, go_test, sh_test, ...) of the user's, as

        NAME_native                 tags: native
        NAME_runsc_stock_P          tags: runsc_P, stock
        NAME_runsc_patched_P        tags: runsc_P, patched

    with a test_suite NAME. Under runsc the sandbox's root is the host's
    root directory, read-only, so the binary finds its runfiles and shared
    libraries; the directories Bazel gives a test to write in are writable;
    sharding (shard_count) and the test's own JUnit XML work as natively.
    A variant passes or fails by the test's exit status. Every variant is
    tagged local and no-sandbox: runsc needs root.

    Args:
      name: base name of the variants and of their test_suite.
      test: label of the test target to run (its executable).
      platforms: runsc platforms whose variants //... runs.
      manual_platforms: runsc platforms whose variants are tagged manual.
      stock_fails: the test is written for a bug the stock runsc has: the
        stock variants pass only if the test fails there (it can see the
        bug), native and patched ones only if it passes.
      shard_count: shards of every variant, handed to the test.
      size: test size of every variant.
      tags: extra tags for every variant.
      **kwargs: passed to every test (timeout, flaky, ...).
    """
    _declare(
        name,
        runner = _EXEC_RUNNER,
        native_args = ["--", "$(rootpath %s)" % test],
        runsc_args = ["-runsc", _RUNSC_PATH, "-kind", _KIND, "-platform", _PLATFORM] +
                     (["-expect-failure-on", "stock"] if stock_fails else []) +
                     ["--", "$(rootpath %s)" % test],
        data = [test],
        platforms = platforms,
        manual_platforms = manual_platforms,
        networks = [("", "none")],
        size = size,
        shard_count = shard_count,
        tags = tags,
        kwargs = kwargs,
    )
