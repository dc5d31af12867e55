#!/usr/bin/env bash
# bench/import.sh: batch issuance with "certsvc-admin licence import"
# (issue #4).  Makes a fresh demo data dir, generates a CSV of
# BENCH_ROWS rows (default 100000) for the demo type DEMO01, each a
# distinct holder, and imports it twice:
#
#   import   every row issued: validation, P-256 seal in SoftHSM2, one
#            store transaction per licence (WAL, synchronous=FULL)
#   rerun    the same file again: every row a replay ("already imported")
#
# For each: wall time of the command (process start to exit, first pass
# over the file included), rows/s as reported by the command, and the
# check that the store holds exactly BENCH_ROWS licences.  Too slow for
# make check; run by hand:
#
#   O=build bench/import.sh            # BENCH_ROWS=100000 BENCH_JOBS=<4 x cores>
#
# The ceiling without HTTP, measured after the imports in the same run:
# 1 / (1/token + 1/tx), token = bench/p11 raw P-256 signatures/s and tx =
# bench/store_tx one-licence transactions/s (one fsync each: group commit
# lets the import pass it), both with one thread per core.  Target: the
# import's rows/s >= 70% of it.
#
# Environment: O (build dir, default build), BENCH_ROWS, BENCH_JOBS
# (worker threads, default: online cores), BENCH_NO_BUILD=1 (use $O as
# it is).  Output: a table on stdout and bench/out/import.json.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
O=${O:-build}
ROWS=${BENCH_ROWS:-100000}
JOBS=${BENCH_JOBS:-$((4 * $(nproc)))} # licence import's default
OUT=bench/out
ADMIN=$ROOT/$O/certsvc-admin
mkdir -p "$OUT"
log() { echo "import.sh: $*" >&2; }

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
	make -s O="$O" all "$O/bench/p11" "$O/bench/store_tx" >&2
fi
for tool in jq sqlite3 awk; do
	command -v "$tool" >/dev/null 2>&1 || { log "needs $tool"; exit 1; }
done
TMP=$(mktemp -d /tmp/certsvc-bench-import.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
D=$TMP/data
"$ADMIN" init --demo --data-dir "$D" >/dev/null
DEPT=$(jq -r .department "$D/demo-tokens.json")
CSV=$TMP/licences.csv

# Rows like a registry export: Chinese names, quoted cells with commas,
# numbers with decimals, dates.
awk -v n="$ROWS" 'BEGIN {
	print "holder_name,holder_id_type,holder_id_number,business_scope,registered_capital,established"
	split("张 王 李 赵 刘 陈 杨 黄 周 吴", fam, " ")
	for (i = 1; i <= n; i++)
		printf "%s%06d,resident_id,110101%08d%04d,\"餐饮服务,食品销售 %d\",%d.%02d,20%02d-%02d-%02d\n",
		    fam[i % 10 + 1], i, 19700101 + i % 400000, i % 10000, i,
		    1000 * (i % 5000), i % 100, i % 24, i % 12 + 1, i % 28 + 1
}' >"$CSV"
log "$ROWS rows, $(du -h "$CSV" | cut -f1) CSV, $JOBS jobs"

run() { # run NAME: import CSV, print "wall_s json"
	local t0 t1 json
	t0=$(date +%s%N)
	json=$("$ADMIN" licence import --data-dir "$D" --csv "$CSV" --dept "$DEPT" \
	    --type DEMO01 --jobs "$JOBS" --json)
	t1=$(date +%s%N)
	printf '%s\n' "$json" | jq -c --arg wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" \
	    --arg name "$1" '{name: $name, wall_seconds: ($wall | tonumber), rows, issued, already_imported, rejected, rows_per_second, jobs}'
}
first=$(run import)
second=$(run rerun)
count=$(sqlite3 "$D/certsvc.db" "SELECT count(*) FROM licences")
distinct=$(sqlite3 "$D/certsvc.db" "SELECT count(DISTINCT id) FROM licences")

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "softhsm2: $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null), openssl: $(openssl version)"
printf '%-8s %8s %8s %8s %8s %10s %8s\n' run rows issued replays rejected rows/s wall_s
for r in "$first" "$second"; do
	printf '%s\n' "$r" | jq -r '[.name, .rows, .issued, .already_imported, .rejected,
	    (.rows_per_second | floor), .wall_seconds] | @tsv' |
	    awk -F'\t' '{ printf "%-8s %8s %8s %8s %8s %10s %8s\n", $1, $2, $3, $4, $5, $6, $7 }'
done
echo "licences in the store: $count ($distinct distinct ids)"
doc=$(sqlite3 "$D/certsvc.db" "SELECT length(document) FROM licences LIMIT 1")
seal=$(sqlite3 "$D/certsvc.db" "SELECT length(seal) FROM licences LIMIT 1")
token=$(SOFTHSM2_CONF= "$O/bench/p11" --alg p256 --threads "$(nproc)" --path raw \
    --seconds 5 --json 2>/dev/null | jq '.results[0].raw')
tx=$("$O/bench/store_tx" --threads "$(nproc)" --seconds 5 --doc "$doc" --seal "$seal" \
    --json 2>/dev/null | jq .tx_per_s)
jq -n --argjson a "$first" --argjson b "$second" --argjson count "$count" \
    --argjson distinct "$distinct" --arg cpu "$(nproc)" \
    --argjson token "$token" --argjson tx "$tx" \
    '(1 / (1 / $token + 1 / $tx)) as $ceiling |
     {cores: ($cpu | tonumber), runs: [$a, $b], licences: $count, distinct_ids: $distinct,
      token_per_s: $token, tx_per_s: $tx, ceiling_per_s: $ceiling,
      ratio: ($a.rows_per_second / $ceiling), target: 0.70,
      pass: ($a.rows_per_second >= 0.70 * $ceiling)}' >"$OUT/import.json"
jq -r '"ceiling without HTTP: 1 / (1/\(.token_per_s) token + 1/\(.tx_per_s) tx) = \(.ceiling_per_s | floor)/s; import \(.runs[0].rows_per_second | floor)/s = \(.ratio * 100 | floor)% (target 70%: \(if .pass then "pass" else "below" end))"' "$OUT/import.json"
echo "json: $OUT/import.json"
[ "$count" -eq "$ROWS" ] && [ "$distinct" -eq "$ROWS" ]
