#!/usr/bin/env bash
# Run every tests/e2e/*.sh (except lib.sh) and print one closing line
# "e2e: N passed, N failed".  Exit 1 if any check failed.
set -u
O=${O:-build}
export O
passed=0 failed=0 bad=()
for t in tests/e2e/*.sh; do
	[ "$(basename "$t")" = lib.sh ] && continue
	echo "== $t"
	out=$(bash "$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	[ "$rc" -ne 0 ] && bad+=("$t")
	passed=$((passed + p)) failed=$((failed + f))
done
[ ${#bad[@]} -gt 0 ] && echo "failed scripts: ${bad[*]}"
echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#bad[@]} -eq 0 ]
