#!/usr/bin/env bash
# Install the Debian packages certsvc needs, only when one is missing, so
# that 'make check' and 'make run' work on a fresh Debian 12 machine.
set -euo pipefail

pkgs=(
	build-essential pkg-config
	libssl-dev openssl
	libp11-kit-dev
	libmicrohttpd-dev libjansson-dev libqrencode-dev
	libsqlite3-dev sqlite3
	zlib1g-dev
	check libsubunit-dev
	softhsm2 opensc
	curl ca-certificates jq
	zbar-tools
	systemd groff-base man-db
	chromium fonts-wqy-microhei
)
# The browser test (tests/e2e/web.sh) needs node and npm.  NodeSource's
# nodejs includes npm; Debian's comes without it, so both only when no node.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages and not root; run as root or: apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
