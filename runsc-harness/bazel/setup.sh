#!/usr/bin/env bash
# setup.sh prepares the offline Bazel build (WORKSPACE, Bazel 4.2.3). Run it
# once with network, from anywhere in the repository; afterwards every bazel
# command works offline. It is idempotent: a part already in place and up to
# date is left alone.
#
# It writes, under third_party/materialised/ (git- and bazel-ignored):
#   rules_go/               rules_go from the Go module proxy + patches/rules_go/*.patch
#   go_sdk/                 the machine's Go with its std library precompiled (CGO_ENABLED=0)
#   go_deps/<repo>/         Go modules of go.mod, with generated BUILD files (gendeps)
#   rules_cc/, remote_coverage_tools/   stand-ins Bazel 4 would otherwise download
# and builds stock and patched runsc for WORKSPACE's gVisor version into
# runsc-harness's cache, where @runsc_stock and @runsc_patched find them.
# Each part is built in a temporary directory and renamed into place only
# when complete, with a .materialised stamp that the WORKSPACE rules check.
#
# Environment: SKIP_APT=1 skips the Debian packages (already installed).
set -euo pipefail

RULES_GO_VERSION=v0.34.0
RULES_GO_MODULE=github.com/bazelbuild/rules_go

die() { echo "setup.sh: $*" >&2; exit 1; }
log() { echo "setup.sh: $*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
M="$ROOT/third_party/materialised"
mkdir -p "$M"
# A module boundary of its own, so that `go vet ./...` and `go test ./...`
# of restartsys never walk into the downloaded sources below.
printf 'module materialised\n' >"$M/go.mod"
cd "$ROOT"

command -v go >/dev/null || die "no go on PATH"
GOROOT_HOST=$(go env GOROOT)
GO_VERSION=$(go env GOVERSION)

# finish DIR TMP STAMP: replace DIR by the complete TMP, stamped.
finish() {
	local dir=$1 tmp=$2 stamp=$3
	printf '%s\n' "$stamp" >"$tmp/.materialised"
	rm -rf "$dir.old"
	if [ -e "$dir" ]; then mv "$dir" "$dir.old"; fi
	mv "$tmp" "$dir"
	rm -rf "$dir.old"
}

# current DIR STAMP: is DIR complete and stamped with STAMP?
current() {
	[ -f "$1/.materialised" ] && [ "$(cat "$1/.materialised")" = "$2" ]
}

# 1. Debian packages: Bazel 4.2.3 (with its JDK), skylib, rules_java.
if [ "${SKIP_APT:-}" != 1 ]; then
	"$ROOT/runsc-harness/host/packages.sh" bazel || die "installing the bazel packages failed"
fi
for f in /usr/share/bazel/tools/skylib/WORKSPACE /usr/share/bazel/rules/java/WORKSPACE; do
	[ -f "$f" ] || die "$f missing: runsc-harness/host/packages.sh bazel"
done

# 2. rules_go, patched. The stamp covers the version and the patch series.
patches=("$ROOT"/patches/rules_go/*.patch)
[ -e "${patches[0]}" ] || die "no patches in patches/rules_go/"
stamp="$RULES_GO_VERSION $(cat "${patches[@]}" | sha256sum | cut -c1-16)"
if current "$M/rules_go" "$stamp"; then
	log "rules_go $RULES_GO_VERSION up to date"
else
	log "materialising rules_go $RULES_GO_VERSION"
	# Outside any module, so that nothing touches this repository's go.mod.
	dl=$(mktemp -d)
	src=$(cd "$dl" && GOFLAGS= go mod download -json "$RULES_GO_MODULE@$RULES_GO_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	rmdir "$dl"
	[ -n "$src" ] && [ -d "$src" ] || die "go mod download $RULES_GO_MODULE@$RULES_GO_VERSION gave no directory"
	tmp=$(mktemp -d "$M/rules_go.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	cp -R "$src/." "$tmp/"
	chmod -R u+w "$tmp"
	# The tree lies inside this repository's work tree: without a ceiling,
	# git apply would take paths relative to the outer repository and
	# silently skip every file.
	for p in "${patches[@]}"; do
		GIT_CEILING_DIRECTORIES="$M" git -C "$tmp" apply --check "$p" ||
			die "patch $(basename "$p") does not apply to rules_go $RULES_GO_VERSION"
		GIT_CEILING_DIRECTORIES="$M" git -C "$tmp" apply "$p" || die "patch $(basename "$p") failed"
		GIT_CEILING_DIRECTORIES="$M" git -C "$tmp" apply --check --reverse "$p" 2>/dev/null ||
			die "patch $(basename "$p") did not take effect"
	done
	finish "$M/rules_go" "$tmp" "$stamp"
	trap - EXIT
fi

# 3. Go SDK with the std library precompiled without cgo: rules_go then uses
# it for every pure-mode configuration instead of building std each time.
stamp="$GO_VERSION $GOROOT_HOST"
if current "$M/go_sdk" "$stamp"; then
	log "go_sdk ($GO_VERSION) up to date"
else
	log "materialising go_sdk: precompiling the $GO_VERSION standard library (a few minutes)"
	tmp=$(mktemp -d "$M/go_sdk.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	for e in bin src lib misc VERSION go.env; do
		if [ -e "$GOROOT_HOST/$e" ]; then ln -s "$GOROOT_HOST/$e" "$tmp/$e"; fi
	done
	mkdir -p "$tmp/pkg"
	ln -s "$GOROOT_HOST/pkg/tool" "$tmp/pkg/tool"
	ln -s "$GOROOT_HOST/pkg/include" "$tmp/pkg/include"
	goos=$(go env GOHOSTOS) goarch=$(go env GOHOSTARCH)
	env GOROOT="$tmp" GODEBUG=installgoroot=all CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS= \
		GO111MODULE=off GOOS="$goos" GOARCH="$goarch" \
		nice -n 10 "$tmp/bin/go" install std || die "go install std failed"
	[ -f "$tmp/pkg/${goos}_$goarch/fmt.a" ] || die "go install std wrote no archives"
	[ ! -e "$tmp/pkg/${goos}_$goarch/runtime/cgo.a" ] || die "std was built with cgo"
	finish "$M/go_sdk" "$tmp" "$stamp"
	trap - EXIT
fi

# 4. Go module dependencies, one repository per module, with BUILD files.
pkgs=$(go list -e -deps -test -f '{{if not .Standard}}{{.ImportPath}}{{end}}' ./... | sort -u) || die "go list failed"
stamp="$(printf '%s\n' "$pkgs" | cat go.mod go.sum - | sha256sum | cut -c1-16)"
if current "$M/go_deps" "$stamp"; then
	log "go_deps up to date"
else
	log "materialising go_deps"
	tmp="$M/go_deps.new"
	rm -rf "$tmp" "$tmp.tmp"
	go run ./runsc-harness/bazel/gendeps -out "$tmp" || die "gendeps failed"
	for d in "$tmp"/*/; do printf 'gendeps\n' >"$d/.materialised"; done
	finish "$M/go_deps" "$tmp" "$stamp"
fi

# 5. Stand-ins for repositories Bazel 4 would download.
stamp="standins 2"
if current "$M/rules_cc" "$stamp" && current "$M/remote_coverage_tools" "$stamp"; then
	log "stand-ins up to date"
else
	log "writing stand-ins for rules_cc and remote_coverage_tools"
	tmp=$(mktemp -d "$M/rules_cc.tmp.XXXXXX")
	mkdir -p "$tmp/cc"
	echo 'workspace(name = "rules_cc")' >"$tmp/WORKSPACE"
	: >"$tmp/BUILD.bazel"
	: >"$tmp/cc/BUILD.bazel"
	{
		echo '"""Stand-in for @rules_cc (written by setup.sh): the native C/C++ rules."""'
		for r in cc_binary cc_import cc_library cc_proto_library cc_test cc_toolchain cc_toolchain_suite objc_import objc_library; do
			printf '\ndef %s(**attrs):\n    native.%s(**attrs)\n' "$r" "$r"
		done
	} >"$tmp/cc/defs.bzl"
	finish "$M/rules_cc" "$tmp" "$stamp"

	tmp=$(mktemp -d "$M/remote_coverage_tools.tmp.XXXXXX")
	echo 'workspace(name = "remote_coverage_tools")' >"$tmp/WORKSPACE"
	cat >"$tmp/BUILD.bazel" <<-'BUILD'
		# Stand-in (written by setup.sh): "bazel coverage" is unsupported offline.
		package(default_visibility = ["//visibility:public"])

		sh_binary(
		    name = "coverage_report_generator",
		    srcs = ["unsupported.sh"],
		)

		sh_binary(
		    name = "lcov_merger",
		    srcs = ["unsupported.sh"],
		)
	BUILD
	printf '#!/bin/sh\necho "bazel coverage is not supported by the offline build" >&2\nexit 1\n' >"$tmp/unsupported.sh"
	chmod +x "$tmp/unsupported.sh"
	finish "$M/remote_coverage_tools" "$tmp" "$stamp"
fi

# 6. runsc, stock and patched, for the gVisor version WORKSPACE names: built
# once by runsc-harness into its cache ($RESTARTSYS_CACHE), from which the
# @runsc_stock and @runsc_patched repositories (runsc.bzl) take it offline.
# The harness caches by version, series and Go version: seconds when warm.
# WORKSPACE is read with buildtools' Starlark parser (callattr).
gvisor=$(go run ./runsc-harness/bazel/callattr WORKSPACE runsc_repositories gvisor) ||
	die "WORKSPACE must call runsc_repositories(gvisor = \"...\") once"
sets=$(go run ./runsc-harness/bazel/callattr -default core WORKSPACE runsc_repositories sets) ||
	die "WORKSPACE's runsc_repositories has an unreadable sets"
log "runsc for gVisor $gvisor, sets $sets (runsc-harness build; cold: downloads gVisor and builds, several minutes)"
go run ./runsc-harness build --gvisor "$gvisor" --sets "$sets" --shim=false >&2 || die "runsc-harness build --gvisor $gvisor --sets $sets failed"

log "done: bazel build //... and bazel test //... now work offline"
