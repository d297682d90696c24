#!/usr/bin/env bash
# guest_test.sh runs one guest program natively or under runsc, for the
# syscall_test macro (syscalltests/defs.bzl). Usage:
#
#   guest_test.sh native GUEST [ARGS...]
#   guest_test.sh stock|patched PLATFORM GUEST [ARGS...]
#
# The runsc variants take the runsc binary from $RUNSC_STOCK or
# $RUNSC_PATCHED (bazel test --test_env=RUNSC_STOCK=/path/to/runsc ...); they
# need root. The test passes when the guest exits 0 and prints a JSON report.
set -euo pipefail

mode=$1
shift
case "$mode" in
native)
	guest=$1
	shift
	cmd=("$guest" "$@")
	;;
stock | patched)
	platform=$1 guest=$2
	shift 2
	var="RUNSC_${mode^^}"
	runsc=${!var:-}
	if [ -z "$runsc" ] || [ ! -x "$runsc" ]; then
		echo "guest_test.sh: set --test_env=$var=/path/to/runsc ($mode runsc binary)" >&2
		exit 1
	fi
	state=$(mktemp -d "${TEST_TMPDIR:-/tmp}/runsc-state.XXXXXX")
	# runsc do runs the guest in a fresh sandbox that ends with it.
	cmd=("$runsc" --root "$state" --network=none --platform="$platform" do "$(realpath "$guest")" "$@")
	;;
*)
	echo "guest_test.sh: unknown mode $mode" >&2
	exit 2
	;;
esac

out="${TEST_UNDECLARED_OUTPUTS_DIR:-${TEST_TMPDIR:-/tmp}}/report.json"
"${cmd[@]}" >"$out"
grep -q '"program"' "$out" || {
	echo "guest_test.sh: no report on standard output" >&2
	exit 1
}
cat "$out"
