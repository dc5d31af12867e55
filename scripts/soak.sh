#!/usr/bin/env bash
# Soak tests (issue #8, docs/robustness.md).
#
#   scripts/soak.sh [load]   mixed load at SOAK_RATE_PCT (80) % of the rate
#                            measured first (wrk, SOAK_MEASURE_SECONDS, 10 s)
#                            for SOAK_SECONDS (600): after the warm-up (the
#                            first fifth) RSS grows < 5 %, open descriptors
#                            and token sessions do not grow, and no request
#                            fails (wrk: no socket error, no non-2xx)
#   scripts/soak.sh valgrind every tests/e2e script with certsvcd under
#                            valgrind memcheck: no "definitely lost" block,
#                            no invalid access, no error at all
#
# make check runs the load form for 20 s (tests/e2e/soak.sh); make soak
# runs both forms in full and crash.sh with 50 kills.  Output in the e2e
# format ("ok N - ...").  Figures go to docs/robustness.md by hand.
set -u
cd "$(dirname "$0")/.." || exit 1
MODE=${1:-load}

if [ "$MODE" = valgrind ]; then
	VG=$(mktemp -d /tmp/certsvc-vg.XXXXXX)
	export CERTSVC_E2E_WRAP="valgrind --error-exitcode=99 --leak-check=full
	    --errors-for-leak-kinds=definite --show-leak-kinds=definite
	    --track-origins=no --suppressions=$PWD/tests/valgrind.supp
	    --log-file=$VG/vg.%p"
	# Under valgrind everything is ~20x slower: no token wait may time out.
	export CERTSVC_TOKEN_TIMEOUT_MS=60000 CRASH_ROUNDS=${CRASH_ROUNDS:-2}
	O=${O:-build} scripts/run-e2e.sh >"$VG/e2e.out" 2>&1
	echo "# e2e under valgrind: $(tail -1 "$VG/e2e.out") (timing checks may fail"
	echo "# under valgrind; the verdict below is valgrind's)"
	# A run killed with SIGKILL (crash.sh) leaves a log without its
	# summary: its errors, if any, are still listed in it.
	n=$(find "$VG" -name 'vg.*' | wc -l)
	nsum=$(grep -l 'ERROR SUMMARY' "$VG"/vg.* 2>/dev/null | wc -l)
	lost=$(grep -l 'definitely lost: [1-9]' "$VG"/vg.* 2>/dev/null)
	errs=$(grep -lE 'ERROR SUMMARY: [1-9]|== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination)' \
	    "$VG"/vg.* 2>/dev/null)
	rc=0
	if [ "$n" -gt 0 ]; then echo "ok 1 - certsvcd ran under valgrind $n times ($nsum to a clean exit)"; else
		echo "not ok 1 - certsvcd ran under valgrind"; rc=1; fi
	if [ -z "$lost" ]; then echo "ok 2 - no block definitely lost"; else
		echo "not ok 2 - no block definitely lost: see $lost"; rc=1; fi
	if [ -z "$errs" ]; then echo "ok 3 - no invalid access or other memcheck error"; else
		echo "not ok 3 - memcheck errors: see $errs"; rc=1; fi
	[ "$rc" = 0 ] && rm -rf "$VG"
	echo "soak-valgrind: $([ "$rc" = 0 ] && echo '3 passed, 0 failed' || echo "logs in $VG")"
	exit "$rc"
fi

source tests/e2e/lib.sh
SECONDS_RUN=${SOAK_SECONDS:-600}
MEASURE=${SOAK_MEASURE_SECONDS:-10}
PCT=${SOAK_RATE_PCT:-80}
CONNS=${SOAK_CONNECTIONS:-32}
D=$E2E_TMP/data
W=$E2E_TMP/w
mkdir -p "$W"
"$ADMIN" init --demo --data-dir "$D" >/dev/null 2>&1 || { fail "init --demo"; e2e_summary; exit 1; }
T=$D/demo-tokens.json
LOG=$E2E_TMP/certsvcd.log
# One log line per request would be gigabytes: warnings only, so the
# port is chosen here rather than read from the "listening" line.
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
U=http://127.0.0.1:$PORT
CERTSVC_LOG_LEVEL=warn CERTSVC_LISTEN=127.0.0.1:$PORT "${E2E_WRAP[@]}" "$DAEMON" \
    --config "$D/certsvc.conf" >"$LOG" 2>&1 &
PID=$!
E2E_PIDS+=("$PID")
for _ in $(seq 1 "$E2E_START_TRIES"); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$U/readyz")" = 200 ] && break
	sleep 0.1
done
check "certsvcd ready" curl -sf -o /dev/null "$U/readyz"
ISSUER=$(jq -r .issuer "$T")
res=$(curl -s -X POST "$U/v1/licences" -H "Authorization: Bearer $ISSUER" -H 'Idempotency-Key: soak-0' \
    -H 'Content-Type: application/json' --data-binary "$(jq -c .sample_licence_request "$T")")
LID=$(printf '%s' "$res" | jq -r .id)
expect_match "a licence to read and verify" "$LID" '^DEMO01-'
SEAL=$(jq -r .seal "$T")
"$ADMIN" seal show --data-dir "$D" --seal "$SEAL" --pem | sed -n '/BEGIN CERT/,/END CERT/p' >"$W/seal.pem"
openssl ocsp -issuer "$D/ca/issuing.pem" -cert "$W/seal.pem" -no_nonce -reqout "$W/ocsp.der" >/dev/null 2>&1
for _ in $(seq 1 50); do # the first refresh signs the OCSP answers
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$U/ocsp/$(base64 -w0 "$W/ocsp.der" | jq -sRr @uri)")" = 200 ] &&
	    break
	sleep 0.2
done

# The mix, per 20 requests: 1 issuance, 7 OCSP GETs, 6 verifications by
# id, 6 licence reads.  Each wrk thread numbers its own idempotency keys.
cat >"$W/mix.lua" <<LUA
local issuer, verifier = "$ISSUER", "$(jq -r .verifier "$T")"
local lid, ocsp = "$LID", "$(base64 -w0 "$W/ocsp.der" | jq -sRr @uri)"
local body = [[$(jq -c .sample_licence_request "$T")]]
local run = "$RANDOM$RANDOM"
local threads, n, pause = 0, 0, tonumber(os.getenv("SOAK_DELAY_MS") or "0")
function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end
function request()
	n = n + 1
	local k = n % 20
	if k == 0 then
		return wrk.format("POST", "/v1/licences", {
			["Authorization"] = "Bearer " .. issuer,
			["Content-Type"] = "application/json",
			["Idempotency-Key"] = "soak-" .. run .. "-" .. tid .. "-" .. n }, body)
	elseif k < 8 then
		return wrk.format("GET", "/ocsp/" .. ocsp)
	elseif k < 14 then
		return wrk.format("POST", "/v1/verify", {
			["Authorization"] = "Bearer " .. verifier,
			["Content-Type"] = "application/json" },
			'{"licence_id":"' .. lid .. '"}')
	end
	return wrk.format("GET", "/v1/licences/" .. lid,
		{ ["Authorization"] = "Bearer " .. issuer })
end
function delay() -- whole ms: dithered, so that fractions average out
	return math.floor(pause + math.random())
end
LUA
# wrk_run SECONDS DELAY_MS OUT: "requests/s non2xx socket_errors"
wrk_run() {
	SOAK_DELAY_MS=$2 wrk -t 2 -c "$CONNS" -d "$1s" --timeout 10s -s "$W/mix.lua" "$U" >"$3" 2>&1
	awk '/Requests\/sec/ { r = $2 } /Non-2xx/ { e = $NF } /Socket errors/ {
	    gsub(/,/, ""); s = $4 + $6 + $8 + $10 } END { print r + 0, e + 0, s + 0 }' "$3"
}
read -r max merr msock <<<"$(wrk_run "$MEASURE" 0 "$W/measure.txt")"
echo "# measured maximum of the mix: $max requests/s ($CONNS connections)"
expect_eq "no failed request while measuring" "$merr $msock" "0 0"
# A delay per request so that CONNS connections make PCT % of the maximum:
# a first guess from the latency at the maximum, then one correction after
# 5 s at it (latency is lower below the maximum).
target=$(awk -v m="$max" -v p="$PCT" 'BEGIN { printf "%d", m * p / 100 }')
dly=$(awk -v c="$CONNS" -v t="$target" -v m="$max" 'BEGIN {
    d = 1000 * c / t - 1000 * c / m; printf "%.2f", (d < 0.1 ? 0.1 : d) }')
read -r r1 _ _ <<<"$(wrk_run 5 "$dly" "$W/pace.txt")"
dly=$(awk -v c="$CONNS" -v t="$target" -v r="$r1" -v d="$dly" 'BEGIN {
    if (r > 0) d += 1000 * c / t - 1000 * c / r; printf "%.2f", (d < 0.1 ? 0.1 : d) }')

# sample: "RSS_kB FDS SESSIONS" of the daemon now.
sample() {
	local rss fds ses
	rss=$(awk '/VmRSS/ { print $2 }' "/proc/$PID/status")
	fds=$(find "/proc/$PID/fd" -mindepth 1 | wc -l)
	ses=$(curl -s -m 5 "$U/metrics" | awk '$1 == "certsvc_token_pool_sessions" { print $2 }')
	echo "$rss $fds ${ses:-?}"
}
# Warm-up: the first fifth, at least half of a short run (SQLite's page
# cache and MHD's pools fill first).
warm=$((SECONDS_RUN / 5))
[ "$warm" -lt 60 ] && warm=$((SECONDS_RUN / 2))
wrk_run "$SECONDS_RUN" "$dly" "$W/soak.txt" >"$W/soak.sum" &
WRK=$!
t0=$(date +%s)
: >"$W/samples"
while kill -0 "$WRK" 2>/dev/null; do
	echo "$(($(date +%s) - t0)) $(sample)" >>"$W/samples"
	sleep "$(( SECONDS_RUN >= 100 ? 10 : 2 ))"
done
wait "$WRK"
read -r rate err sock <"$W/soak.sum"
# After the warm-up: the first sample past it, and the last one.
read -r _ rss0 fd0 ses0 <<<"$(awk -v w="$warm" '$1 >= w' "$W/samples" | head -1)"
read -r _ rss1 fd1 ses1 <<<"$(tail -1 "$W/samples")"
rssmax=$(awk -v w="$warm" '$1 >= w && $2 > m { m = $2 } END { print m + 0 }' "$W/samples")
growth=$(awk -v a="${rss0:-0}" -v b="${rssmax:-0}" 'BEGIN { printf "%.1f", (a > 0 ? 100 * (b - a) / a : 999) }')
echo "# $SECONDS_RUN s at $rate requests/s (target $target = $PCT % of $max; delay $dly ms);" \
    "RSS ${rss0} -> max ${rssmax} -> ${rss1} kB ($growth %), fds $fd0 -> $fd1, token sessions $ses0 -> $ses1"
expect_eq "error rate 0 (wrk: non-2xx, socket errors)" "$err $sock" "0 0"
if awk -v g="$growth" 'BEGIN { exit !(g < 5) }'; then ok "RSS growth after warm-up ${growth} % (< 5 %)"; else
	fail "RSS growth after warm-up ${growth} % (< 5 %)" "$(cat "$W/samples")"; fi
# Descriptors come and go with requests (a connection, a file read): a
# leak shows as a second half whose fewest is above the first half's most.
read -r fdA fdB <<<"$(awk -v w="$warm" -v e="$SECONDS_RUN" '$1 >= w { if ($1 < (w + e) / 2) {
    if ($3 > a) a = $3 } else if (b == "" || $3 < b) b = $3 } END { print a + 0, b + 0 }' "$W/samples")"
if [ "$fdB" -le "$fdA" ]; then ok "open descriptors do not grow (most $fdA, then at least $fdB)"; else
	fail "open descriptors do not grow (most $fdA, then at least $fdB)" "$(cat "$W/samples")"; fi
expect_eq "token sessions do not grow" "$ses1" "$ses0"
if awk -v r="$rate" -v t="$target" 'BEGIN { exit !(r >= t * 0.5) }'; then ok "load was applied ($rate requests/s)"; else
	fail "load was applied ($rate requests/s, target $target)"; fi
check "daemon alive" kill -0 "$PID"
stop_daemon; rc=$?
expect_eq "clean shutdown" "$rc" 0
e2e_summary
