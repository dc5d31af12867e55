#!/usr/bin/env bash
# bench/audit.sh: the two audit figures of issue #7.
#
# (a) The audit event's share of an issuance transaction.  bench/store_tx
#     writes the rows licence_issue() commits (licence, holder client,
#     idempotency key, audit event) on a fresh database (WAL,
#     synchronous=FULL), with and without the audit event, alternately,
#     BENCH_REPEAT times each (median), in the same run:
#       share = 1 - rate_with / rate_without        target <= 15%
#     and, steadier on a shared machine, the event's share of the CPU an
#     issuance's rows cost: 1 - cpu_without / cpu_with.
#     Twice: one issuance per transaction (one fsync each: what a lone
#     issuance pays) and BENCH_BATCH issuances per transaction, each in its
#     savepoint (group commit under load: the fsync shared, so the
#     event's CPU shows).  The target applies to both.
#
# (b) `certsvc-admin audit verify` over BENCH_EVENTS (default 1,000,000)
#     events: a fresh data dir (certsvc-admin init), bench/audit_gen
#     appends the events through store_audit_append() in big
#     transactions, `audit checkpoint` signs the head, then verify runs
#     BENCH_REPEAT times; wall and CPU time of the median run.
#       target: wall <= 5 s
#
#   O=build bench/audit.sh     # BENCH_SECONDS=5 BENCH_REPEAT=3 BENCH_BATCH=16
#
# Environment: O (build dir, default build), BENCH_SECONDS (per store_tx
# run), BENCH_REPEAT, BENCH_BATCH, BENCH_EVENTS, BENCH_THREADS (store_tx
# threads, default: online cores), BENCH_NO_BUILD=1.  Output: a summary
# on stdout and bench/out/audit.json.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
O=${O:-build}
SECONDS_PER=${BENCH_SECONDS:-5}
REPEAT=${BENCH_REPEAT:-3}
BATCH=${BENCH_BATCH:-16}
EVENTS=${BENCH_EVENTS:-1000000}
THREADS=${BENCH_THREADS:-$(nproc)}
OUT=bench/out
ADMIN=$ROOT/$O/certsvc-admin
mkdir -p "$OUT"
log() { echo "audit.sh: $*" >&2; }

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
	make -s O="$O" all "$O/bench/store_tx" "$O/bench/audit_gen" >&2
fi
for tool in jq sqlite3 awk /usr/bin/time; do
	command -v "$tool" >/dev/null 2>&1 || { log "needs $tool"; exit 1; }
done
TMP=$(mktemp -d /tmp/certsvc-bench-audit.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# --- (a) share of the issuance transaction ---------------------------------
share_json=()
for batch in 1 "$BATCH"; do
	: >"$TMP/with" ; : >"$TMP/without"
	for i in $(seq 1 "$REPEAT"); do
		for mode in with without; do
			flag=; [ "$mode" = without ] && flag=--no-audit
			log "store_tx batch $batch, $mode audit event, run $i/$REPEAT"
			"$O/bench/store_tx" --threads "$THREADS" --seconds "$SECONDS_PER" \
			    --batch "$batch" $flag --json | jq -c . >>"$TMP/$mode"
		done
	done
	with=$(jq .tx_per_s "$TMP/with" | median); without=$(jq .tx_per_s "$TMP/without" | median)
	cw=$(jq .cpu_us_per_tx "$TMP/with" | median); cwo=$(jq .cpu_us_per_tx "$TMP/without" | median)
	share_json+=("$(jq -n -c --argjson b "$batch" --argjson w "$with" --argjson wo "$without" \
	    --argjson cw "$cw" --argjson cwo "$cwo" \
	    --slurpfile ws <(jq .tx_per_s "$TMP/with" | jq -s .) \
	    --slurpfile wos <(jq .tx_per_s "$TMP/without" | jq -s .) \
	    '{batch: $b, with_per_s: $w, without_per_s: $wo, runs_with: $ws[0],
	      runs_without: $wos[0], share: (1 - $w / $wo), cpu_us_with: $cw,
	      cpu_us_without: $cwo, cpu_share: (1 - $cwo / $cw), target: 0.15,
	      pass: ((1 - $w / $wo) <= 0.15)}')")
done

# --- (b) audit verify over EVENTS events ------------------------------------
D=$TMP/data
"$ADMIN" init --data-dir "$D" >/dev/null 2>&1
log "appending $EVENTS events"
gen=$("$O/bench/audit_gen" --db "$D/certsvc.db" --events "$EVENTS" --json)
"$ADMIN" audit checkpoint --data-dir "$D" >/dev/null
sqlite3 "$D/certsvc.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
total=$(sqlite3 "$D/certsvc.db" 'SELECT count(*) FROM audit_events')
: >"$TMP/verify"
for i in $(seq 1 "$REPEAT"); do
	log "audit verify over $total events, run $i/$REPEAT"
	/usr/bin/time -f '%e %U %S' -o "$TMP/t" "$ADMIN" audit verify --data-dir "$D" --json \
	    >"$TMP/v.json"
	jq -e '.ok and .checkpoints >= 1' "$TMP/v.json" >/dev/null ||
	    { log "audit verify did not hold: $(cat "$TMP/v.json")"; exit 1; }
	awk '{printf "%s %.2f\n", $1, $2 + $3}' "$TMP/t" >>"$TMP/verify"
done
wall=$(awk '{print $1}' "$TMP/verify" | median)
cpu=$(awk -v w="$wall" '$1 == w {print $2; exit}' "$TMP/verify")

jq -n --argjson shares "$(printf '%s\n' "${share_json[@]}" | jq -s .)" \
    --argjson gen "$gen" --argjson events "$total" --argjson wall "$wall" \
    --argjson cpu "$cpu" --argjson runs "$(awk '{print $1}' "$TMP/verify" | jq -s .)" \
    --arg cores "$(nproc)" --argjson threads "$THREADS" --argjson seconds "$SECONDS_PER" \
    '{cores: ($cores | tonumber), store_tx_threads: $threads, seconds_per_run: $seconds,
      share_of_issuance_tx: $shares,
      verify: {events: $events, generated: $gen, wall_s: $wall, cpu_s: $cpu,
               runs_wall_s: $runs, events_per_s: ($events / $wall), target_s: 5,
               pass: ($wall <= 5)}}' >"$OUT/audit.json"
jq -r '.share_of_issuance_tx[] |
    "issuance tx, \(.batch) per commit: \(.with_per_s | floor)/s with the audit event, \(.without_per_s | floor)/s without: share \(.share * 1000 | round / 10)% (target <= 15%: \(if .pass then "pass" else "above" end)); CPU \(.cpu_us_with) vs \(.cpu_us_without) us an issuance: \(.cpu_share * 1000 | round / 10)% of it"' \
    "$OUT/audit.json"
jq -r '.verify | "audit verify: \(.events) events in \(.wall_s) s wall (\(.cpu_s) s CPU), \(.events_per_s | floor) events/s (target <= 5 s: \(if .pass then "pass" else "above" end))"' \
    "$OUT/audit.json"
