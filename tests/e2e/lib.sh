# Shared helpers for the end-to-end scripts (sourced).  Each script runs
# against the binaries in $O (default build) with its own temp data dir,
# prints "ok N - what" / "not ok N - what" and ends with "N passed, N failed".
set -u
O=${O:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ADMIN="$ROOT/$O/certsvc-admin"
DAEMON="$ROOT/$O/certsvcd"
MODULE=${CERTSVC_TEST_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
E2E_PASS=0
E2E_FAIL=0
E2E_N=0
E2E_PIDS=()
E2E_TMP=$(mktemp -d /tmp/certsvc-e2e.XXXXXX)

e2e_cleanup() {
	local p
	for p in "${E2E_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$E2E_TMP"
}
trap e2e_cleanup EXIT

# ok WHAT: record a pass;  fail WHAT [DETAIL]: record a failure.
ok() {
	E2E_N=$((E2E_N + 1)); E2E_PASS=$((E2E_PASS + 1))
	echo "ok $E2E_N - $1"
}
fail() {
	E2E_N=$((E2E_N + 1)); E2E_FAIL=$((E2E_FAIL + 1))
	echo "not ok $E2E_N - $1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/    # /' | head -30
	return 0
}
# check WHAT CMD...: pass when CMD exits 0.
check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$what"; else fail "$what" "$out"; fi
}
# check_fails WHAT CMD...: pass when CMD exits non-zero.
check_fails() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then fail "$what" "$out"; else ok "$what"; fi
}
# expect_eq WHAT GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "got '$2', want '$3'"; fi
}
# expect_match WHAT TEXT REGEX (grep -E)
expect_match() {
	if printf '%s' "$2" | grep -Eq -- "$3"; then ok "$1"; else
		fail "$1" "no match for /$3/ in: $(printf '%s' "$2" | head -c 2000)"; fi
}

# log_wait FILE ERE [COUNT]: wait up to 2 s until at least COUNT (default 1)
# lines of FILE match ERE (grep -E).  certsvcd buffers info lines for up to
# 100 ms (docs/observability.md): a request's line is not in the file the
# moment its answer arrives.  Warnings and errors are written at once.
log_wait() {
	local n=${3:-1} c _
	for _ in $(seq 1 40); do
		c=$(grep -Ec -- "$2" "$1" 2>/dev/null)
		[ "${c:-0}" -ge "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

# CERTSVC_E2E_WRAP: a command certsvcd runs under, e.g. "valgrind
# --error-exitcode=99" (make soak); it must exec the daemon in its own
# process, so that PID is the daemon's.  Start-up may then take longer.
E2E_WRAP=(${CERTSVC_E2E_WRAP:-})
E2E_START_TRIES=${CERTSVC_E2E_START_TRIES:-$([ ${#E2E_WRAP[@]} -gt 0 ] && echo 1200 || echo 100)}

# start_daemon DATA_DIR LOG: start certsvcd on a free port; sets PORT, PID.
start_daemon() {
	local data=$1 log=$2 i
	CERTSVC_LISTEN=127.0.0.1:0 "${E2E_WRAP[@]}" "$DAEMON" \
	    --config "$data/certsvc.conf" >"$log" 2>&1 &
	PID=$!
	E2E_PIDS+=("$PID")
	PORT=
	for i in $(seq 1 "$E2E_START_TRIES"); do
		PORT=$(sed -nE 's/.*listening on .*\(port ([0-9]+)\).*/\1/p' "$log" | head -1)
		[ -n "$PORT" ] && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "certsvcd did not start:" >&2
	cat "$log" >&2
	return 1
}

# stop_daemon: SIGTERM and wait; returns the daemon's exit status.
stop_daemon() {
	local rc
	kill -TERM "$PID" 2>/dev/null
	wait "$PID"
	rc=$?
	return $rc
}

e2e_summary() {
	echo "$(basename "$0" .sh): $E2E_PASS passed, $E2E_FAIL failed"
	[ "$E2E_FAIL" -eq 0 ]
}
