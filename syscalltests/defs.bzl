"""syscall_test: one guest program, run natively and under stock and patched runsc.

A sketch of the variant expansion. For syscall_test(name = "storm", ...)
it declares, per platform P in platforms:

    storm_native                tags: native
    storm_runsc_stock_P         tags: runsc_P, stock   (+ manual, local)
    storm_runsc_patched_P       tags: runsc_P, patched (+ manual, local)

and a test_suite "storm" of all of them. The runsc variants are manual (they
need root and runsc binaries given with --test_env=RUNSC_STOCK=... and
RUNSC_PATCHED=...) and local (runsc does not run inside Bazel's sandbox).
Select with e.g. bazel test --test_tag_filters=runsc_systrap,patched //syscalltests/...

Not yet done: comparing each runsc report with the native one (runsc-harness
compare) instead of only checking that a report was written.
"""

PLATFORMS = ["systrap", "ptrace"]

def syscall_test(name, guest, args = [], platforms = PLATFORMS, size = "medium", tags = [], **kwargs):
    """Declares the native, stock-runsc and patched-runsc variants of a guest.

    Args:
      name: base name of the variants and of their test_suite.
      guest: label of the guest go_binary (static, pure).
      args: arguments passed to the guest.
      platforms: runsc platforms to declare variants for.
      size: test size of every variant.
      tags: extra tags for every variant.
      **kwargs: passed to every sh_test (timeout, flaky, ...).
    """
    runner = "//runsc-harness/bazel:guest_test.sh"
    variants = []

    native.sh_test(
        name = name + "_native",
        srcs = [runner],
        args = ["native", "$(rootpath %s)" % guest] + args,
        data = [guest],
        size = size,
        tags = tags + ["native"],
        **kwargs
    )
    variants.append(name + "_native")

    for platform in platforms:
        for kind in ["stock", "patched"]:
            variant = "%s_runsc_%s_%s" % (name, kind, platform)
            native.sh_test(
                name = variant,
                srcs = [runner],
                args = [kind, platform, "$(rootpath %s)" % guest] + args,
                data = [guest],
                size = size,
                tags = tags + ["runsc_" + platform, kind, "manual", "local"],
                **kwargs
            )
            variants.append(variant)

    native.test_suite(
        name = name,
        tests = variants,
        tags = ["manual"],
    )
