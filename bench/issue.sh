#!/usr/bin/env bash
# bench/issue.sh: licence issuance over HTTP against its ceiling (issue #4,
# DESIGN.md section 6).  For a P-256 and an RSA-3072 seal and concurrency
# 2, 4 and 8 (wrk connections), in one run on one machine:
#
#   issued/s  wrk + bench/req.lua: POST /v1/licences on certsvcd, each
#             request with its own Idempotency-Key (all must be 201)
#   bare/s    the same wrk settings and script on bench/mhd_bare answering
#             with a body of the issuance answer's size
#   token/s   bench/p11 raw C_Sign at the server's parallelism
#   tx/s      bench/store_tx: issuance's one transaction, same parallelism,
#             same document and seal sizes, fresh DB, WAL + FULL
#
#   tsa/s     with timestamp_seals on (the default: CAdES-T seals), the
#             TSA's second token signature per licence: bench/p11 raw
#             C_Sign with P-256 (the TSA key's algorithm), same parallelism
#
# ceiling = 1 / (1/bare + 1/token + 1/tsa + 1/tx), the 1/tsa term only
# with timestamp_seals.  Targets: P-256 issued/s >= 60% of its ceiling;
# RSA-3072 issued/s >= 90% of the signer's rate 1 / (1/token + 1/tsa)
# (token/s without timestamps).  The server's parallelism is min(connections, HTTP threads): certsvcd runs one handler
# per thread of its pool (4 per core), so connections beyond it still make
# at most that many token signatures and transactions at a time.
#
# Then, unless BENCH_PROFILE=0: perf (when present) on certsvcd during a
# P-256 run gives CPU microseconds per licence by function, and
# bench/issue_parts times each step of an issuance alone.
#
# Environment: O (build dir, default build), BENCH_DURATION (s per wrk
# point, default 20), BENCH_WARMUP (s, default 2), BENCH_BLOCK_SECONDS
# (token and store measurements, default 5), BENCH_CONCURRENCY ("2 4 8"),
# BENCH_ALGS ("p256 rsa3072"), BENCH_PROFILE (1/0, default 1),
# BENCH_RETRIES (runs again when every connection landed on one server
# thread, default 2), BENCH_NO_BUILD=1 (make bench has built everything).
# Needs wrk, jq, curl and /usr/bin/time; installs the missing ones (root).  Output: a table on
# stdout, bench/out/issue.json and, with profiling,
# bench/out/issue-profile-p256.txt and bench/out/issue-parts-<alg>.txt.
# Loopback only; everything started here is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
O=${O:-build}
DURATION=${BENCH_DURATION:-20}
BLOCK=${BENCH_BLOCK_SECONDS:-5}
CONCS=${BENCH_CONCURRENCY:-2 4 8}
ALGS=${BENCH_ALGS:-p256 rsa3072}
PROFILE=${BENCH_PROFILE:-1}
P256_TARGET=0.60
RSA_TARGET=0.90
NAME=issue.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
	make -s O="$O" all "$O/bench/p11" "$O/bench/mhd_bare" \
	    "$O/bench/store_tx" "$O/bench/issue_parts" >&2
fi
bench_tools wrk jq curl time

D=$TMP/data
"$O/certsvc-admin" init --demo --data-dir "$D" >/dev/null 2>&1
T=$D/demo-tokens.json
(umask 077 && jq -r .issuer "$T" >"$TMP/token")
DEPT=$(jq -r .department "$T")
SEAL_p256=$(jq -r .seal "$T")
SEAL_rsa3072=$("$O/certsvc-admin" seal create --data-dir "$D" --dept "$DEPT" \
    --name "bench RSA-3072 seal" --alg rsa3072 --json 2>/dev/null | jq -r .id)
# The seal is always named: without "seal" a department's newest seal signs.
for alg in p256 rsa3072; do
	seal_var=SEAL_$alg
	jq -c --arg s "${!seal_var}" '.sample_licence_request + {seal: $s}' "$T" \
	    >"$TMP/req-$alg.json"
done

# CAdES-T seals cost the TSA's signature too (certsvcd reads the same).
TS_SEALS=${CERTSVC_TIMESTAMP_SEALS:-$(sed -nE 's/^timestamp_seals *= *([01]).*/\1/p' \
    "$D/certsvc.conf" | tail -1)}
TS_SEALS=${TS_SEALS:-1}
log "timestamp_seals = $TS_SEALS"

certsvcd_start "$D"

# One licence per seal: the answer's, document's and seal's sizes.
for alg in p256 rsa3072; do
	code=$(curl -s -o "$TMP/probe-$alg.json" -w '%{http_code}' -X POST "$URL/v1/licences" \
	    -H "Authorization: Bearer $(cat "$TMP/token")" -H "Idempotency-Key: probe-$alg" \
	    -H 'Content-Type: application/json' --data-binary "@$TMP/req-$alg.json")
	if [ "$code" != 201 ]; then
		log "probe issuance with the $alg seal: HTTP $code"
		cat "$TMP/probe-$alg.json" >&2
		exit 1
	fi
	declare "RESP_$alg=$(wc -c <"$TMP/probe-$alg.json")"
	declare "DOC_$alg=$(jq -r .envelope.document "$TMP/probe-$alg.json" | base64 -d | wc -c)"
	declare "SEALDER_$alg=$(jq -r .envelope.seal "$TMP/probe-$alg.json" | base64 -d | wc -c)"
done

# --- measurements -------------------------------------------------------------
RUN=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')

# issue_args ALG PREFIX: bench/req.lua's arguments for issuance
issue_args() {
	echo POST /v1/licences "$TMP/req-$1.json" "$TMP/token" application/json 201 "$2"
}

ROWS=$TMP/rows.jsonl
: >"$ROWS"
for alg in $ALGS; do
	resp_var=RESP_$alg doc_var=DOC_$alg der_var=SEALDER_$alg
	for c in $CONCS; do
		par=$((c < HTTP_THREADS ? c : HTTP_THREADS))
		f=$TMP/issue-$alg-$c.txt
		b=$TMP/bare-$alg-$c.txt
		log "$alg, $c connections: issuance"
		# shellcheck disable=SC2046
		http_point "$CPID" "$URL" "$c" "$f" $(issue_args "$alg" "i$RUN-$alg-$c-")
		log "$alg, $c connections: bare handler (${!resp_var} bytes)"
		bare_start "${!resp_var}" 201
		# shellcheck disable=SC2046
		http_point "$BPID" "http://127.0.0.1:$BPORT" "$c" "$b" $(issue_args "$alg" b)
		bare_stop
		log "$alg, $c connections: token ($par threads), store ($par threads)"
		sync
		"$O/bench/p11" --alg "$alg" --threads "$par" --path raw \
		    --seconds "$BLOCK" --json 2>/dev/null >"$TMP/p11-$alg-$c.json"
		tsa_rate=0
		if [ "$TS_SEALS" = 1 ] && [ "$alg" = p256 ]; then
			tsa_rate=$(jq '.results[0].raw' "$TMP/p11-$alg-$c.json")
		elif [ "$TS_SEALS" = 1 ]; then
			log "$alg, $c connections: TSA token, P-256 ($par threads)"
			"$O/bench/p11" --alg p256 --threads "$par" --path raw \
			    --seconds "$BLOCK" --json 2>/dev/null >"$TMP/tsa-$alg-$c.json"
			tsa_rate=$(jq '.results[0].raw' "$TMP/tsa-$alg-$c.json")
		fi
		"$O/bench/store_tx" --threads "$par" --seconds "$BLOCK" \
		    --doc "${!doc_var}" --seal "${!der_var}" --json 2>/dev/null \
		    >"$TMP/tx-$alg-$c.json"
		attempts_json=$(for a in "$f".*; do
			jq -n -c --argjson issued "$(rate "$a")" \
			    --argjson busy "$(val "$a" busy_threads)" '{issued_per_s: $issued, busy_threads: $busy}'
		done | jq -s -c .)
		jq -n -c --arg alg "$alg" --argjson c "$c" --argjson par "$par" \
		    --argjson issued "$(rate "$f")" --argjson p50 "$(val "$f" p50_us)" \
		    --argjson p99 "$(val "$f" p99_us)" --argjson non201 "$(val "$f" unexpected)" \
		    --argjson first_bad "$(val "$f" first_bad_status)" \
		    --argjson sockerr "$(val "$f" socket_errors)" \
		    --argjson cpu_us "$(val "$f" server_cpu_us)" \
		    --argjson busy "$(val "$f" busy_threads)" \
		    --argjson idle "$(val "$f" machine_idle)" \
		    --argjson other "$(val "$f" other_cpu)" \
		    --argjson attempts "$attempts_json" \
		    --argjson bare "$(rate "$b")" \
		    --argjson bare_p99 "$(val "$b" p99_us)" \
		    --argjson bare_busy "$(val "$b" busy_threads)" \
		    --argjson bare_attempts "$(val "$b" attempts)" \
		    --argjson token "$(jq '.results[0].raw' "$TMP/p11-$alg-$c.json")" \
		    --argjson tsa "$tsa_rate" \
		    --argjson tx "$(jq .tx_per_s "$TMP/tx-$alg-$c.json")" \
		    --argjson tx_cpu "$(jq .cpu_us_per_tx "$TMP/tx-$alg-$c.json")" \
		    --argjson resp "${!resp_var}" --argjson doc "${!doc_var}" \
		    --argjson seal "${!der_var}" \
		    --argjson p256_target "$P256_TARGET" --argjson rsa_target "$RSA_TARGET" '
		    (if $tsa > 0 then 1 / $tsa else 0 end) as $tsa_term |
		    (1 / (1 / $token + $tsa_term)) as $signer |
		    (1 / (1 / $bare + 1 / $token + $tsa_term + 1 / $tx)) as $ceiling |
		    {alg: $alg, connections: $c, parallelism: $par,
		     issued_per_s: $issued, p50_ms: ($p50 / 1000), p99_ms: ($p99 / 1000),
		     non_201: $non201, first_non_201_status: $first_bad,
		     socket_errors: $sockerr,
		     certsvcd_cpu_us_per_licence: $cpu_us, busy_threads: $busy,
		     machine_idle: $idle, other_cpu: $other, attempts: $attempts,
		     bare_per_s: $bare, bare_p99_ms: ($bare_p99 / 1000),
		     bare_busy_threads: $bare_busy, bare_attempts: $bare_attempts,
		     token_per_s: $token, tsa_token_per_s: $tsa,
		     timestamped: ($tsa > 0), signer_per_s: $signer,
		     tx_per_s: $tx, tx_cpu_us: $tx_cpu,
		     response_bytes: $resp, document_bytes: $doc, seal_bytes: $seal,
		     ceiling_per_s: $ceiling,
		     ratio_ceiling: ($issued / $ceiling),
		     ratio_token: ($issued / $signer)} |
		    . + {target: (if $alg == "p256"
		                  then "issued >= \($p256_target * 100)% of ceiling"
		                  else "issued >= \($rsa_target * 100)% of token" end),
		         pass: ((.non_201 == 0 and .socket_errors == 0) and
		                (if $alg == "p256" then .ratio_ceiling >= $p256_target
		                 else .ratio_token >= $rsa_target end))}' >>"$ROWS"
	done
done

# --- where the time goes ------------------------------------------------------
PROFILE_NOTE=none
# The functions worth naming: certsvc's own, the library calls it makes,
# and the kernel's share (fsync, socket, file reads).
PROFILE_SYMS='^(api_[a-z_]+|licence_[a-z_]+|crypto_[a-z_]+|store_[a-z_]+|client_[a-z_]+'
PROFILE_SYMS+='|jcs_[a-z]+|seal_[a-z_]+|ltype_[a-z_]+|holder_ref_make|codes_[a-z_]+'
PROFILE_SYMS+='|p11_sign_digest|C_SignInit|C_Sign|CMS_final|CMS_verify|CMS_add1_signer'
PROFILE_SYMS+='|X509_check_private_key|EVP_DigestSignFinal|EVP_DigestVerifyFinal'
PROFILE_SYMS+='|OSSL_ESS_signing_cert_v2_new_init|RAND_bytes_ex|sqlite3_step'
PROFILE_SYMS+='|sqlite3WalFrames|sqlite3_wal_checkpoint_v2|json_dumps|json_loadb|json_pack'
PROFILE_SYMS+='|__x64_sys_fdatasync|__x64_sys_pwrite64|__x64_sys_pread64|__sys_sendmsg'
PROFILE_SYMS+='|__x64_sys_recvfrom|__x64_sys_epoll_wait|MHD_[a-z_]+|malloc|_int_free)$'
if [ "$PROFILE" != 0 ] && [[ " $ALGS " == *" p256 "* ]]; then
	pc=$(echo "$CONCS" | awk '{ print $NF }')
	psec=$((DURATION < 10 ? DURATION : 10))
	if command -v perf >/dev/null 2>&1 &&
	    perf record -o "$TMP/perf-probe.data" -q -- true >/dev/null 2>&1; then
		log "profile: perf on certsvcd, p256, $pc connections, ${psec}s"
		c0=$(awk '{ print $14 + $15 }' "/proc/$CPID/stat")
		# shellcheck disable=SC2046
		wrk_run "$URL" "$pc" "$psec" "$TMP/prof-wrk.txt" $(issue_args p256 "p$RUN") &
		WPID=$!
		perf record -q -F 499 --call-graph dwarf,16384 -p "$CPID" \
		    -o "$TMP/perf.data" -- sleep "$psec" >/dev/null 2>&1 || true
		wait "$WPID"
		c1=$(awk '{ print $14 + $15 }' "/proc/$CPID/stat")
		preq=$(awk '$1 == "bench" && $2 == "requests" { print $3 }' "$TMP/prof-wrk.txt")
		cpu_us=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="$preq" \
		    'BEGIN { printf "%.0f", (b - a) / t * 1e6 / n }')
		{
			echo "# certsvcd under perf (P-256, $pc connections, ${psec}s):"
			echo "# $preq licences, certsvcd CPU (user+sys) $cpu_us us per licence."
			echo "# us/licence = inclusive share of certsvcd's samples x CPU per licence."
			echo "# (perf slows the run; the shares, not the rate, are the result.)"
			printf '%-34s %7s %10s\n' function share us/licence
			perf report -i "$TMP/perf.data" --children --sort sym -g none \
			    --percent-limit 0.3 --stdio 2>/dev/null |
			    awk -v cpu="$cpu_us" -v keep="$PROFILE_SYMS" '/^ +[0-9.]+%/ {
				share = $1; sub("%", "", share); sym = $NF
				if (sym !~ keep || seen[sym]++) next
				printf "%-34s %6.1f%% %10.1f\n", sym, share, share * cpu / 100 }'
		} >"$OUT/issue-profile-p256.txt"
		PROFILE_NOTE="$OUT/issue-profile-p256.txt"
	else
		log "profile: perf not usable here, only bench/issue_parts"
	fi
	for alg in $ALGS; do
		n=$([ "$alg" = p256 ] && echo 4000 || echo 400)
		log "profile: bench/issue_parts, $alg seal, $n iterations"
		"$O/bench/issue_parts" --config "$D/certsvc.conf" --token-file "$TMP/token" \
		    --body "$TMP/req-$alg.json" --iterations "$n" 2>/dev/null \
		    >"$TMP/parts-$alg.txt"
		cp "$TMP/parts-$alg.txt" "$OUT/issue-parts-$alg.txt"
	done
fi

# --- report -------------------------------------------------------------------
jq -s --argjson machine "$(machine_json)" --argjson http_threads "$HTTP_THREADS" \
    --argjson duration "$DURATION" \
    --argjson block "$BLOCK" --arg profile "$PROFILE_NOTE" '
    {machine: $machine,
     certsvcd_http_threads: $http_threads, wrk_seconds: $duration,
     block_seconds: $block, profile: $profile,
     results: .,
     pass: (map(.pass) | all)}' "$ROWS" >"$OUT/issue.json"

printf '%-8s %5s %3s %9s %7s %9s %8s %6s %9s %6s %6s %6s %5s %5s %s\n' alg conns par \
    issued/s p99_ms bare/s token/s tx/s ceiling/s ratio /token cpu_us busy other pass
jq -r '.results[] | [.alg, .connections, .parallelism, .issued_per_s, .p99_ms,
    .bare_per_s, .token_per_s, .tx_per_s, .ceiling_per_s,
    (.ratio_ceiling * 100), (.ratio_token * 100),
    .certsvcd_cpu_us_per_licence, .busy_threads, (.other_cpu * 100),
    (if .pass then "pass" else "FAIL" end), .non_201, (.attempts | length)] | @tsv' "$OUT/issue.json" |
    awk -F'\t' '{ printf "%-8s %5d %3d %9.0f %7.2f %9.0f %8.0f %6.0f %9.0f %5.1f%% %5.1f%% %6.0f %5.2f %4.0f%% %s%s%s\n",
	$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
	($16 > 0 ? " (" $16 " non-201)" : ""), ($17 > 1 ? " (attempt " $17 ")" : "") }'
echo "targets: P-256 issued >= $(awk -v t=$P256_TARGET 'BEGIN{print t*100}')% of ceiling," \
    "RSA-3072 issued >= $(awk -v t=$RSA_TARGET 'BEGIN{print t*100}')% of token/s" \
    "(with timestamps: of 1/(1/token + 1/tsa));" \
    "all: $(jq -r 'if .pass then "pass" else "below target" end' "$OUT/issue.json")"
echo "json: $OUT/issue.json"
[ "$PROFILE_NOTE" != none ] && cat "$PROFILE_NOTE"
for alg in $ALGS; do
	[ -f "$TMP/parts-$alg.txt" ] && { echo "# bench/issue_parts, $alg seal (one thread, us per call)"; cat "$TMP/parts-$alg.txt"; }
done
exit 0
