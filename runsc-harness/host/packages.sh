#!/usr/bin/env bash
# packages.sh GROUP... installs the Debian packages of each named group
# that are missing, with apt-get (root only), and says what it installed.
# It is the one place this project installs host packages from; CI and the
# README call it through the scripts that need each group.
#
#   bazel   Debian's Bazel 4.2.3 with skylib and rules_java (bazel/setup.sh)
#   docker  dockerd and containerd, for e2e docker and the fleet guide's
#           Docker and containerd steps
#   gtest   g++, GoogleTest/GoogleMock, Abseil and Google Benchmark, for
#           gVisor-style syscall tests (runsc-harness upstream)
#
# SKIP_APT=1 checks only, and fails naming what is missing.
set -euo pipefail

die() { echo "packages.sh: $*" >&2; exit 1; }

declare -A GROUPS_=(
	[bazel]="bazel-bootstrap bazel-skylib bazel-rules-java"
	[docker]="docker.io containerd"
	[gtest]="g++ libgtest-dev libgmock-dev libabsl-dev libbenchmark-dev"
)

[ $# -gt 0 ] || die "usage: packages.sh GROUP... (groups: ${!GROUPS_[*]})"
wanted=()
for g in "$@"; do
	[ -n "${GROUPS_[$g]+x}" ] || die "unknown group \"$g\" (groups: ${!GROUPS_[*]})"
	read -r -a ps <<<"${GROUPS_[$g]}"
	wanted+=("${ps[@]}")
done

missing=()
for p in "${wanted[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
[ "${SKIP_APT:-}" != 1 ] || die "missing Debian packages: ${missing[*]} (SKIP_APT=1 installs nothing)"
[ "$(id -u)" = 0 ] || die "need root to apt-get install ${missing[*]}"
echo "packages.sh: installing ${missing[*]}" >&2
# No package may start a service (dockerd and containerd would take the
# machine's default sockets): a policy-rc.d that forbids it, for the
# install only, unless the machine has its own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq || die "apt-get update failed"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
	die "apt-get install ${missing[*]} failed"
