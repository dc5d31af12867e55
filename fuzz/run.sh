#!/usr/bin/env bash
# fuzz/run.sh: run the libFuzzer targets of fuzz/targets (make fuzz,
# make fuzz-short; docs/robustness.md).
#
#   O=build-fuzz FUZZ_SECONDS=600 fuzz/run.sh [name...]
#
# For each target: first every input of fuzz/regress/<name>/ once (inputs
# that once crashed it), then FUZZ_SECONDS of fuzzing from the seeds of
# fuzz/corpus/<name>/ with -max_len from fuzz/targets.  New inputs go to a
# temporary work corpus (libFuzzer writes only to its first corpus
# directory), so runs never grow the repository; FUZZ_KEEP=DIR keeps them
# in DIR/<name>.  FUZZ_SECONDS=0 runs the regression inputs only.  The
# targets' temporary files (fuzz_svc()) live in the same directory, so a
# crash leaves none behind.  Logs
# and crash inputs go to $O/fuzz/logs and $O/fuzz/artifacts.  One line of
# figures per target; exit 1 if any target crashed.
set -u
O=${O:-build-fuzz}
S=${FUZZ_SECONDS:-600}
cd "$(dirname "$0")/.." || exit 1
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
work=$(mktemp -d "${TMPDIR:-/tmp}/certsvc-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
mkdir -p "$O/fuzz/logs" "$O/fuzz/artifacts"
failed=()

wanted() {
	[ $# -eq 1 ] && return 0
	local n=$1 w
	shift
	for w in "$@"; do [ "$w" = "$n" ] && return 0; done
	return 1
}

while read -r name maxlen _; do
	case $name in '' | \#*) continue ;; esac
	wanted "$name" "$@" || continue
	bin=$O/fuzz/fuzz_$name
	log=$O/fuzz/logs/$name.log
	if [ ! -x "$bin" ]; then
		echo "fuzz $name: $bin missing (make fuzz-build)"
		failed+=("$name")
		continue
	fi
	regress=()
	if [ -d "fuzz/regress/$name" ]; then
		while IFS= read -r -d '' f; do regress+=("$f"); done < \
		    <(find "fuzz/regress/$name" -type f -print0 | sort -z)
	fi
	if [ ${#regress[@]} -gt 0 ]; then
		if ! TMPDIR=$work "$bin" "${regress[@]}" >"$log.regress" 2>&1; then
			echo "fuzz $name: a regression input crashes it:"
			tail -30 "$log.regress"
			failed+=("$name")
			continue
		fi
	fi
	if [ "$S" -eq 0 ]; then
		echo "fuzz $name: ${#regress[@]} regression inputs pass"
		continue
	fi
	corpus=$work/$name
	mkdir -p "$corpus"
	seeds=()
	[ -d "fuzz/corpus/$name" ] && seeds=("fuzz/corpus/$name")
	TMPDIR=$work "$bin" -max_total_time="$S" -max_len="$maxlen" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$O/fuzz/artifacts/$name-" \
	    "$corpus" "${seeds[@]}" >"$log" 2>&1
	rc=$?
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
	[ -z "$done_line" ] && done_line=$(grep -E '^#[0-9]+' "$log" | tail -1)
	execs=$(sed -nE 's/^stat::number_of_executed_units:[[:space:]]*([0-9]+).*/\1/p' "$log")
	rate=$(sed -nE 's/^stat::average_exec_per_sec:[[:space:]]*([0-9]+).*/\1/p' "$log")
	cov=$(printf '%s' "$done_line" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
	ft=$(printf '%s' "$done_line" | sed -nE 's/.* ft: ([0-9]+).*/\1/p')
	corp=$(printf '%s' "$done_line" | sed -nE 's/.*corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p')
	printf 'fuzz %-13s %4ss  execs %-9s exec/s %-6s cov %-5s ft %-6s corpus %s  regress %d\n' \
	    "$name" "$S" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
	    "${corp:-?}" "${#regress[@]}"
	if [ -n "${FUZZ_KEEP:-}" ]; then
		mkdir -p "$FUZZ_KEEP/$name"
		cp -n "$corpus"/* "$FUZZ_KEEP/$name"/ 2>/dev/null
	fi
	if [ $rc -ne 0 ]; then
		echo "fuzz $name: CRASH (exit $rc); log $log, input:"
		ls "$O/fuzz/artifacts/$name-"* 2>/dev/null
		grep -E 'ERROR|SUMMARY|invariant failed|runtime error' "$log" | head -5
		failed+=("$name")
	fi
done <fuzz/targets

if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: failed: ${failed[*]}"
	exit 1
fi
echo "fuzz: all targets passed"
