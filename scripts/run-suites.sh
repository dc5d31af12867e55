#!/usr/bin/env bash
# Run Check suite binaries; print each suite's summary and one closing line
# "N passed, N failed" over all of them.  Exit 1 if any test failed.
set -u
O=${O:-build}
export CERTSVC_TEST_MODULE=${CERTSVC_TEST_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
export P11FAULT_SO=${P11FAULT_SO:-$PWD/$O/tests/p11fault.so}
export CERTSVC_TEST_TMP=${CERTSVC_TEST_TMP:-$(mktemp -d /tmp/certsvc-test.XXXXXX)}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
passed=0 failed=0 bad_suites=()
for s in "$@"; do
	out=$("$s" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks' | sed "s|^|$(basename "$s"): |"
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks' | tail -1)
	n=$(printf '%s' "$line" | sed -nE 's/.*Checks: ([0-9]+).*/\1/p')
	f=$(printf '%s' "$line" | sed -nE 's/.*Failures: ([0-9]+).*/\1/p')
	e=$(printf '%s' "$line" | sed -nE 's/.*Errors: ([0-9]+).*/\1/p')
	n=${n:-0} f=${f:-0} e=${e:-0}
	if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
		bad_suites+=("$(basename "$s")")
		printf '%s\n' "$out" | tail -40
		[ "$f" -eq 0 ] && [ "$e" -eq 0 ] && f=1
	fi
	passed=$((passed + n - f - e))
	failed=$((failed + f + e))
done
rm -rf "$CERTSVC_TEST_TMP"
[ ${#bad_suites[@]} -gt 0 ] && echo "failed suites: ${bad_suites[*]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
