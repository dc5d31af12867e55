#!/usr/bin/env bash
# bench/verify.sh: the read side of issue #5 against its ceilings
# (DESIGN.md section 6), in one run on one machine.  wrk with
# bench/req.lua, BENCH_CONNECTIONS (32) connections for BENCH_DURATION (15)
# seconds a point, on loopback:
#
#   verify_envelope  POST /v1/verify {"envelope": ...}   (verifier token)
#   verify_id        POST /v1/verify {"licence_id": ...}
#   ocsp_post        POST /ocsp, the DER request of `openssl ocsp -reqout`
#   ocsp_get         GET /ocsp/{base64 of the same request}
#   status_list      GET /v1/status-lists/0
#
# and the building blocks: bench/mhd_bare answering with a body of each
# endpoint's answer size (bare/s), OpenSSL P-256 sign/s and verify/s alone
# (`openssl speed -multi <cores> ecdsap256`), and a licence lookup
# alone (bench/lookup: store_licence_get at the same parallelism).
#
# Ceilings: verify_envelope = 1 / (1/bare + V/verify + 1/sign), verify_id
# the same + 1/lookup, where V (BENCH_VERIFY_OPS) is the number of
# signature verifications a request needs: the seal's signature, and for a
# CAdES-T probe seal (timestamp_seals = 1) its timestamp token's too (the
# chain of a known seal or TSA certificate verifies once, not per
# request).  Unset, V is 2 when the probe seal carries the unsigned
# attribute id-aa-signatureTimeStampToken (openssl cms -cmsout -print),
# else 1; the script prints which it used.
# OCSP and status list: the bare handler.  Targets: verify >= 60% of its
# ceiling, OCSP >= 70% and status list >= 80% of bare.
#
# Scale: verify_id again with BENCH_LICENCES (default 1000000) licences in
# the store against the first run's 1,000: p99 within 1.5x.  The extra
# rows are copies of the probe licence (same document and seal sizes)
# under new identifiers, written with sqlite3 while certsvcd runs.
#
# Environment: O (build dir), BENCH_DURATION, BENCH_CONNECTIONS,
# BENCH_WARMUP (2), BENCH_BLOCK_SECONDS (5), BENCH_LICENCES (0 skips the
# scale run), BENCH_REPEAT (runs per point, the median kept; default 3),
# BENCH_NO_BUILD=1.  Output: a table on stdout and
# bench/out/verify.json.  Everything started here is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
O=${O:-build}
DURATION=${BENCH_DURATION:-15}
CONNS=${BENCH_CONNECTIONS:-32}
BLOCK=${BENCH_BLOCK_SECONDS:-5}
BIG=${BENCH_LICENCES:-1000000}
VOPS=${BENCH_VERIFY_OPS:-}
export BENCH_REPEAT=${BENCH_REPEAT:-3}
NAME=verify.sh
# shellcheck source=bench/lib.sh
. bench/lib.sh

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
	make -s O="$O" all "$O/bench/mhd_bare" "$O/bench/lookup" >&2
fi
bench_tools wrk jq curl time sqlite3

D=$TMP/data
"$O/certsvc-admin" init --demo --data-dir "$D" >/dev/null 2>&1
T=$D/demo-tokens.json
(umask 077 && jq -r .issuer "$T" >"$TMP/issuer" && jq -r .verifier "$T" >"$TMP/verifier")
jq -c .sample_licence_request "$T" >"$TMP/req.json"
certsvcd_start "$D"

# The probe licence, and the request bodies.
code=$(curl -s -o "$TMP/probe.json" -w '%{http_code}' -X POST "$URL/v1/licences" \
    -H "Authorization: Bearer $(cat "$TMP/issuer")" -H "Idempotency-Key: probe" \
    -H 'Content-Type: application/json' --data-binary "@$TMP/req.json")
if [ "$code" != 201 ]; then
	log "probe issuance: HTTP $code"
	cat "$TMP/probe.json" >&2
	exit 1
fi
ID=$(jq -r .id "$TMP/probe.json")
jq -c '{envelope: .envelope}' "$TMP/probe.json" >"$TMP/verify-envelope.json"
jq -c '{licence_id: .id}' "$TMP/probe.json" >"$TMP/verify-id.json"
jq -r .envelope.seal "$TMP/probe.json" | base64 -d >"$TMP/seal.p7s"
# CAdES-T: the seal's SignerInfo has id-aa-signatureTimeStampToken
# (1.2.840.113549.1.9.16.2.14), a second signature to verify a request.
if [ -z "$VOPS" ]; then
	openssl cms -cmsout -print -inform DER -in "$TMP/seal.p7s" >"$TMP/seal.txt"
	if grep -q '(1\.2\.840\.113549\.1\.9\.16\.2\.14)' "$TMP/seal.txt"; then
		VOPS=2
		log "probe seal is CAdES-T: 2 verifications a request (seal, timestamp)"
	else
		VOPS=1
		log "probe seal is CAdES-BES: 1 verification a request"
	fi
else
	log "BENCH_VERIFY_OPS=$VOPS verifications a request (from the environment)"
fi
jq -r .envelope.document "$TMP/probe.json" | base64 -d >"$TMP/document.json"
openssl pkcs7 -inform DER -in "$TMP/seal.p7s" -print_certs 2>/dev/null |
    awk '/BEGIN CERT/ { n++ } { print > ("'"$TMP"'/cert" n ".pem") }'
# The seal certificate is the one the issuing CA did not issue to itself.
for f in "$TMP"/cert*.pem; do
	if openssl x509 -in "$f" -noout -ext basicConstraints 2>/dev/null | grep -q CA:TRUE; then
		cp "$f" "$TMP/issuing.pem"
	else
		cp "$f" "$TMP/seal.pem"
	fi
done
openssl ocsp -issuer "$TMP/issuing.pem" -cert "$TMP/seal.pem" -no_nonce \
    -reqout "$TMP/ocsp.der" >/dev/null 2>&1
OCSP_GET=/ocsp/$(base64 -w0 "$TMP/ocsp.der" | jq -sRr @uri)
SLIST=$(jq -r '.status.status_list.uri // empty' "$TMP/document.json" | sed -E 's|^https?://[^/]+||')
SLIST=${SLIST:-/v1/status-lists/0}

# Verification answers once the refresher has made the report key.
for _ in $(seq 1 100); do
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL/v1/verify" \
	    -H "Authorization: Bearer $(cat "$TMP/verifier")" \
	    -H 'Content-Type: application/json' --data-binary "@$TMP/verify-id.json")
	[ "$code" = 200 ] && break
	sleep 0.1
done

# fill N: copies of the probe licence until the store holds N licences.
fill() {
	local have
	have=$(sqlite3 "$D/certsvc.db" 'SELECT count(*) FROM licences')
	[ "$have" -ge "$1" ] && return 0
	sqlite3 "$D/certsvc.db" >/dev/null <<-SQL
	PRAGMA busy_timeout = 10000;
	WITH RECURSIVE n(i) AS (SELECT $have UNION ALL SELECT i + 1 FROM n WHERE i < $1 - 1)
	INSERT INTO licences (id, version, type, dept, seal_id, holder_ref, status,
	    issued_at, valid_from, valid_until, document, seal, latest)
	SELECT printf('%s.F%09d', p.id, i), 1, p.type, p.dept, p.seal_id,
	    lower(hex(randomblob(32))), p.status, p.issued_at - i, p.valid_from,
	    p.valid_until, p.document, p.seal, 1
	FROM n, (SELECT * FROM licences WHERE id = '$ID') AS p;
	SQL
}

# The endpoints: name, then bench/req.lua's METHOD PATH BODY TOKEN CTYPE.
ENDPOINTS=(
	"verify_envelope POST /v1/verify $TMP/verify-envelope.json $TMP/verifier application/json"
	"verify_id POST /v1/verify $TMP/verify-id.json $TMP/verifier application/json"
	"ocsp_post POST /ocsp $TMP/ocsp.der - application/ocsp-request"
	"ocsp_get GET $OCSP_GET - - -"
	"status_list GET $SLIST - - -"
)

# size METHOD PATH BODY TOKEN CTYPE: bytes of the answer (must be 200)
size() {
	local args=(-s -o "$TMP/answer" -w '%{http_code}' -X "$1" "$URL$2")
	[ "$3" != - ] && args+=(--data-binary "@$3")
	[ "$4" != - ] && args+=(-H "Authorization: Bearer $(cat "$4")")
	[ "$5" != - ] && args+=(-H "Content-Type: $5")
	code=$(curl "${args[@]}")
	if [ "$code" != 200 ]; then
		log "$1 $2: HTTP $code"
		head -c 300 "$TMP/answer" >&2
		exit 1
	fi
	wc -c <"$TMP/answer"
}

fill 1000
ROWS=$TMP/rows.jsonl
: >"$ROWS"
for e in "${ENDPOINTS[@]}"; do
	read -r name method path body token ctype <<<"$e"
	bytes=$(size "$method" "$path" "$body" "$token" "$ctype")
	log "$name: certsvcd ($bytes-byte answers)"
	http_point "$CPID" "$URL" "$CONNS" "$TMP/$name.txt" \
	    "$method" "$path" "$body" "$token" "$ctype" 200 -
	log "$name: bare handler"
	bare_start "$bytes" 200
	http_point "$BPID" "http://127.0.0.1:$BPORT" "$CONNS" "$TMP/$name-bare.txt" \
	    "$method" "$path" "$body" "$token" "$ctype" 200 -
	bare_stop
	jq -n -c --arg name "$name" --argjson bytes "$bytes" \
	    --argjson rate "$(rate "$TMP/$name.txt")" \
	    --argjson p50 "$(val "$TMP/$name.txt" p50_us)" \
	    --argjson p99 "$(val "$TMP/$name.txt" p99_us)" \
	    --argjson bad "$(val "$TMP/$name.txt" unexpected)" \
	    --argjson sockerr "$(val "$TMP/$name.txt" socket_errors)" \
	    --argjson cpu "$(val "$TMP/$name.txt" server_cpu_us)" \
	    --argjson busy "$(val "$TMP/$name.txt" busy_threads)" \
	    --argjson bare "$(rate "$TMP/$name-bare.txt")" \
	    --argjson bare_p99 "$(val "$TMP/$name-bare.txt" p99_us)" \
	    --arg runs "$(val "$TMP/$name.txt" rates)" \
	    --arg bare_runs "$(val "$TMP/$name-bare.txt" rates)" \
	    '{endpoint: $name, answer_bytes: $bytes, per_s: $rate,
	      runs_per_s: ($runs | split(",") | map(tonumber)),
	      bare_runs_per_s: ($bare_runs | split(",") | map(tonumber)),
	      p50_ms: ($p50 / 1000), p99_ms: ($p99 / 1000), unexpected: $bad,
	      socket_errors: $sockerr, certsvcd_cpu_us: $cpu, busy_threads: $busy,
	      bare_per_s: $bare, bare_p99_ms: ($bare_p99 / 1000)}' >>"$ROWS"
done

CORES=$(nproc)
log "building blocks: openssl speed ecdsap256 ($CORES processes), lookup ($CORES threads)"
read -r SIGN VERIFY < <(openssl speed -seconds "$BLOCK" -multi "$CORES" -mr ecdsap256 2>/dev/null |
    awk -F: '/^\+F4:/ { s = $4; v = $5 } END { printf "%.0f %.0f\n", s, v }')
LOOKUP=$("$O/bench/lookup" --db "$D/certsvc.db" --id "$ID" --threads "$CORES" \
    --seconds "$BLOCK" --json | jq .lookups_per_s)

SCALE=null
if [ "$BIG" -gt 1000 ]; then
	log "scale: filling the store to $BIG licences"
	fill "$BIG"
	log "scale: verify_id with $BIG licences"
	http_point "$CPID" "$URL" "$CONNS" "$TMP/verify_id-big.txt" \
	    POST /v1/verify "$TMP/verify-id.json" "$TMP/verifier" application/json 200 -
	SCALE=$(jq -n -c --argjson n "$BIG" --argjson rate "$(rate "$TMP/verify_id-big.txt")" \
	    --argjson p99 "$(val "$TMP/verify_id-big.txt" p99_us)" \
	    --argjson bad "$(val "$TMP/verify_id-big.txt" unexpected)" \
	    '{licences: $n, per_s: $rate, p99_ms: ($p99 / 1000), unexpected: $bad}')
fi

jq -s --argjson machine "$(machine_json)" --argjson threads "$HTTP_THREADS" \
    --argjson conns "$CONNS" --argjson duration "$DURATION" \
    --argjson sign "$SIGN" --argjson verify "$VERIFY" --argjson lookup "$LOOKUP" \
    --argjson vops "$VOPS" --argjson scale "$SCALE" '
    def ceiling(bare; extra): 1 / (1 / bare + $vops / $verify + 1 / $sign + extra);
    (map(
      if .endpoint == "verify_envelope" then
        . + {ceiling_per_s: ceiling(.bare_per_s; 0), target: 0.60}
      elif .endpoint == "verify_id" then
        . + {ceiling_per_s: ceiling(.bare_per_s; 1 / $lookup), target: 0.60}
      elif .endpoint == "status_list" then
        . + {ceiling_per_s: .bare_per_s, target: 0.80}
      else . + {ceiling_per_s: .bare_per_s, target: 0.70} end
      | . + {ratio: (.per_s / .ceiling_per_s)}
      | . + {pass: (.ratio >= .target and .unexpected == 0 and .socket_errors == 0)})) as $rows
    | ($rows | map(select(.endpoint == "verify_id"))[0]) as $small
    | {machine: $machine, http_threads: $threads, connections: $conns,
       wrk_seconds: $duration,
       building_blocks: {openssl_p256_sign_per_s: $sign,
         openssl_p256_verify_per_s: $verify, lookup_per_s: $lookup,
         verify_ops_per_request: $vops},
       results: $rows,
       scale: (if $scale == null then null else
         $scale + {small_licences: 1000, small_p99_ms: $small.p99_ms,
           p99_ratio: ($scale.p99_ms / $small.p99_ms),
           pass: ($scale.p99_ms <= 1.5 * $small.p99_ms and $scale.unexpected == 0)} end)}
    | . + {pass: ((.results | map(.pass) | all) and (.scale == null or .scale.pass))}' \
    "$ROWS" >"$OUT/verify.json"

printf '%-16s %6s %9s %7s %7s %9s %9s %7s %7s %s\n' endpoint bytes per_s p50_ms p99_ms \
    bare/s ceiling/s ratio target pass
jq -r '.results[] | [.endpoint, .answer_bytes, .per_s, .p50_ms, .p99_ms, .bare_per_s,
    .ceiling_per_s, (.ratio * 100), (.target * 100), (if .pass then "pass" else "FAIL" end),
    .unexpected] | @tsv' "$OUT/verify.json" |
    awk -F'\t' '{ printf "%-16s %6d %9.0f %7.2f %7.2f %9.0f %9.0f %6.1f%% %6.0f%% %s%s\n",
	$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ($11 > 0 ? " (" $11 " unexpected)" : "") }'
jq -r '.building_blocks | "blocks: P-256 sign \(.openssl_p256_sign_per_s)/s, verify \(.openssl_p256_verify_per_s)/s, lookup \(.lookup_per_s)/s, \(.verify_ops_per_request) verification(s) a request"' "$OUT/verify.json"
jq -r 'if .scale then .scale | "scale: verify_id p99 \(.small_p99_ms) ms with 1000 licences, \(.p99_ms) ms with \(.licences): x\(.p99_ratio * 100 | round / 100) (\(if .pass then "pass" else "FAIL" end))" else "scale: skipped" end' "$OUT/verify.json"
echo "all: $(jq -r 'if .pass then "pass" else "below target" end' "$OUT/verify.json"); json: $OUT/verify.json"
