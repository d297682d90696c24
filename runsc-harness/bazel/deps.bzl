"""restartsys_repositories: the repositories of the offline Bazel build.

restartsys's own WORKSPACE and any workspace that pulls restartsys in with
local_repository (docs/example-workspace) call it first, then rules_go's
macros (which cannot be loaded before rules_go exists), then
runsc_repositories:

    load("@restartsys//runsc-harness/bazel:deps.bzl", "restartsys_repositories")
    restartsys_repositories()

Everything is local: Debian's bazel-skylib and bazel-rules-java packages,
and what runsc-harness/bazel/setup.sh materialised under restartsys's
third_party/materialised/.
"""

load(":repositories.bzl", "materialised_go_modules", "materialised_repository")

def restartsys_repositories():
    """Declares skylib, rules_java, the stand-ins, rules_go and the Go modules."""

    # Debian's bazel-skylib and bazel-rules-java packages.
    native.local_repository(
        name = "bazel_skylib",
        path = "/usr/share/bazel/tools/skylib",
    )
    native.local_repository(
        name = "rules_java",
        path = "/usr/share/bazel/rules/java",
    )

    # Bazel 4 wants these two from the internet. Stand-ins written by
    # setup.sh: rules_cc forwards to the native C++ rules (Debian's rules_cc
    # is too new for Bazel 4); remote_coverage_tools is empty, so "bazel
    # coverage" is unsupported.
    materialised_repository(
        name = "rules_cc",
        path = "third_party/materialised/rules_cc",
    )
    materialised_repository(
        name = "remote_coverage_tools",
        path = "third_party/materialised/remote_coverage_tools",
    )

    # rules_go v0.34.0 (the newest that loads on Bazel 4) from the Go module
    # proxy, with patches/rules_go/*.patch applied for Go 1.26.
    materialised_repository(
        name = "io_bazel_rules_go",
        path = "third_party/materialised/rules_go",
        version = "v0.34.0",
    )

    # One repository per module of go.mod, with BUILD files from gendeps.
    materialised_go_modules([
        "com_github_bazelbuild_buildtools",
    "com_github_bluekeyes_go_gitdiff",
        "com_github_google_go_cmp",
        "com_github_opencontainers_runtime_spec",
        "org_golang_x_mod",
        "org_golang_x_sync",
        "org_golang_x_sys",
        "org_golang_x_tools",
    ])
