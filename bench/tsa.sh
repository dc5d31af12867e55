#!/usr/bin/env bash
# bench/tsa.sh: the RFC 3161 timestamp authority (issue #7) against its
# ceiling (DESIGN.md section 6), in one run on one machine.  wrk with
# bench/req.lua posts one fixed query (`openssl ts -query -sha256 -cert`,
# so every answer carries the TSA certificate) to POST /tsa with
# BENCH_CONNECTIONS (32) connections for BENCH_DURATION (15) seconds; every
# answer must be 200 (granted).  The building blocks, measured alone:
#
#   bare/s    bench/mhd_bare answering with a body of the reply's size,
#             same wrk settings and script
#   token/s   bench/p11 raw C_Sign with P-256 (the TSA key's algorithm)
#             at the server's parallelism, min(connections, HTTP threads)
#
# ceiling = 1 / (1/token + 1/bare).  Target: timestamps/s >= 60% of it.
#
# Environment: O (build dir), BENCH_DURATION, BENCH_CONNECTIONS,
# BENCH_WARMUP (2), BENCH_BLOCK_SECONDS (5), BENCH_REPEAT (runs per point,
# the median kept; default 3), BENCH_NO_BUILD=1.  A short smoke run:
# BENCH_DURATION=3 BENCH_BLOCK_SECONDS=2 BENCH_REPEAT=1.  Output: a table
# on stdout and bench/out/tsa.json.  Everything started here is stopped on
# exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
O=${O:-build}
DURATION=${BENCH_DURATION:-15}
CONNS=${BENCH_CONNECTIONS:-32}
BLOCK=${BENCH_BLOCK_SECONDS:-5}
export BENCH_REPEAT=${BENCH_REPEAT:-3}
TARGET=0.60
NAME=tsa.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
	make -s O="$O" all "$O/bench/mhd_bare" "$O/bench/p11" >&2
fi
bench_tools wrk jq curl time openssl

D=$TMP/data
"$O/certsvc-admin" init --demo --data-dir "$D" >/dev/null 2>&1
certsvcd_start "$D"

head -c 4096 /dev/urandom >"$TMP/data.bin"
openssl ts -query -data "$TMP/data.bin" -sha256 -cert -out "$TMP/q.tsq" 2>/dev/null
# The first query makes the TSA key; its answer gives the reply's size.
code=$(curl -s -o "$TMP/probe.tsr" -w '%{http_code}' --data-binary "@$TMP/q.tsq" \
    -H 'Content-Type: application/timestamp-query' "$URL/tsa")
if [ "$code" != 200 ] ||
    ! openssl ts -verify -in "$TMP/probe.tsr" -queryfile "$TMP/q.tsq" \
        -CAfile "$D/ca/root.pem" -untrusted "$D/ca/issuing.pem" >/dev/null 2>&1; then
	log "probe timestamp: HTTP $code, or it does not verify"
	openssl ts -reply -in "$TMP/probe.tsr" -text >&2 2>&1 || true
	exit 1
fi
BYTES=$(wc -c <"$TMP/probe.tsr")
ARGS=(POST /tsa "$TMP/q.tsq" - application/timestamp-query 200 -)
PAR=$((CONNS < HTTP_THREADS ? CONNS : HTTP_THREADS))

log "POST /tsa: certsvcd ($BYTES-byte replies, $CONNS connections)"
http_point "$CPID" "$URL" "$CONNS" "$TMP/tsa.txt" "${ARGS[@]}"
log "bare handler ($BYTES bytes)"
bare_start "$BYTES" 200
http_point "$BPID" "http://127.0.0.1:$BPORT" "$CONNS" "$TMP/bare.txt" "${ARGS[@]}"
bare_stop
log "token: P-256 raw C_Sign, $PAR threads"
"$O/bench/p11" --alg p256 --threads "$PAR" --path raw --seconds "$BLOCK" \
    --json 2>/dev/null >"$TMP/p11.json"

jq -n --argjson machine "$(machine_json)" --argjson threads "$HTTP_THREADS" \
    --argjson conns "$CONNS" --argjson duration "$DURATION" --argjson par "$PAR" \
    --argjson bytes "$BYTES" --argjson rate "$(rate "$TMP/tsa.txt")" \
    --argjson p50 "$(val "$TMP/tsa.txt" p50_us)" \
    --argjson p99 "$(val "$TMP/tsa.txt" p99_us)" \
    --argjson bad "$(val "$TMP/tsa.txt" unexpected)" \
    --argjson sockerr "$(val "$TMP/tsa.txt" socket_errors)" \
    --argjson cpu "$(val "$TMP/tsa.txt" server_cpu_us)" \
    --argjson busy "$(val "$TMP/tsa.txt" busy_threads)" \
    --arg runs "$(val "$TMP/tsa.txt" rates)" \
    --argjson bare "$(rate "$TMP/bare.txt")" \
    --argjson token "$(jq '.results[0].raw' "$TMP/p11.json")" \
    --argjson target "$TARGET" '
    (1 / (1 / $token + 1 / $bare)) as $ceiling |
    {machine: $machine, certsvcd_http_threads: $threads, connections: $conns,
     wrk_seconds: $duration, parallelism: $par, reply_bytes: $bytes,
     timestamps_per_s: $rate,
     runs_per_s: ($runs | split(",") | map(select(. != "") | tonumber)),
     p50_ms: ($p50 / 1000), p99_ms: ($p99 / 1000), unexpected: $bad,
     socket_errors: $sockerr, certsvcd_cpu_us: $cpu, busy_threads: $busy,
     bare_per_s: $bare, token_per_s: $token, ceiling_per_s: $ceiling,
     ratio_ceiling: ($rate / $ceiling),
     target: "timestamps >= \($target * 100)% of ceiling",
     pass: ($bad == 0 and $sockerr == 0 and $rate / $ceiling >= $target)}' \
    >"$OUT/tsa.json"

printf '%12s %7s %7s %9s %8s %9s %6s %6s %s\n' stamps/s p50_ms p99_ms bare/s \
    token/s ceiling/s ratio cpu_us pass
jq -r '[.timestamps_per_s, .p50_ms, .p99_ms, .bare_per_s, .token_per_s,
    .ceiling_per_s, (.ratio_ceiling * 100), .certsvcd_cpu_us,
    (if .pass then "pass" else "FAIL" end), .unexpected] | @tsv' "$OUT/tsa.json" |
    awk -F'\t' '{ printf "%12.0f %7.2f %7.2f %9.0f %8.0f %9.0f %5.1f%% %6.0f %s%s\n",
	$1, $2, $3, $4, $5, $6, $7, $8, $9, ($10 > 0 ? " (" $10 " not 200)" : "") }'
echo "target: timestamps/s >= $(awk -v t=$TARGET 'BEGIN{print t*100}')% of ceiling" \
    "= 1 / (1/token + 1/bare)"
echo "json: $OUT/tsa.json"
exit 0
