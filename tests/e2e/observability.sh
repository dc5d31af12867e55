#!/usr/bin/env bash
# Observability end to end (issue #7, docs/observability.md): certsvcd logs
# one JSON line per request to log_file, every line parses with jq and none
# holds a secret or the holder's id number; SIGHUP reopens the file;
# log_level filters; /metrics histograms are consistent (count == +Inf
# bucket, buckets cumulative) and the token, audit and pre-signed gauges
# say what happened.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
"$ADMIN" init --demo --data-dir "$D" >/dev/null 2>&1 || { fail "init --demo"; exit 1; }
T=$D/demo-tokens.json
ISSUER=$(jq -r .issuer "$T"); VERIFIER=$(jq -r .verifier "$T"); HOLDER=$(jq -r .holder "$T")
IDNUM=$(jq -r .sample_licence_request.holder.id_number "$T")
jq -c .sample_licence_request "$T" >"$E2E_TMP/req.json"
JLOG=$E2E_TMP/certsvcd.jsonl

# start_logging_daemon: certsvcd with log_file; the port comes from the file.
start_logging_daemon() {
	local i
	: >"$JLOG"
	CERTSVC_LISTEN=127.0.0.1:0 CERTSVC_LOG_FILE=$JLOG "$DAEMON" \
	    --config "$D/certsvc.conf" >"$E2E_TMP/stderr.log" 2>&1 &
	PID=$!
	E2E_PIDS+=("$PID")
	PORT=
	for i in $(seq 1 100); do
		PORT=$(sed -nE 's/.*listening on .*\(port ([0-9]+)\).*/\1/p' "$JLOG" | head -1)
		[ -n "$PORT" ] && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

if ! start_logging_daemon; then
	fail "certsvcd starts with log_file" "$(cat "$E2E_TMP/stderr.log" "$JLOG")"
	e2e_summary; exit 1
fi
ok "certsvcd starts with log_file"
U=http://127.0.0.1:$PORT

# --- traffic: 10 requests, 3 routes with a client ---------------------------
code() { curl -s -o "$E2E_TMP/body" -w '%{http_code}' "$@"; }
expect_eq "healthz" "$(code "$U/healthz")" 200
expect_eq "issue a licence" "$(code -X POST "$U/v1/licences" -H "Authorization: Bearer $ISSUER" \
    -H 'Idempotency-Key: obs-1' -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/req.json")" 201
ID=$(jq -r .id "$E2E_TMP/body")
HTOKEN=$(jq -r .holder_token "$E2E_TMP/body")
expect_eq "the holder lists its licences" \
    "$(code "$U/v1/holder/licences" -H "Authorization: Bearer $HTOKEN")" 200
expect_eq "a verifier verifies it" "$(code -X POST "$U/v1/verify" -H "Authorization: Bearer $VERIFIER" \
    -H 'Content-Type: application/json' --data "{\"licence_id\":\"$ID\"}")" 200
expect_eq "a wrong token: 401" "$(code "$U/v1/holder/licences" -H "Authorization: Bearer cs_wrong")" 401
expect_eq "no route: 404" "$(code "$U/no/such/path")" 404
expect_eq "the CA certificate" "$(code "$U/ca/root.pem")" 200
expect_eq "the issuing CA's CRL" "$(code "$U/crl/issuing.crl")" 200
expect_eq "an unknown licence: 404" "$(code "$U/v1/licences/NOPE-1" -H "Authorization: Bearer $ISSUER")" 404
expect_eq "readyz" "$(code "$U/readyz")" 200
NREQ=10
sleep 0.3 # the completed callbacks of the last requests

# --- metrics ----------------------------------------------------------------
curl -s "$U/metrics" >"$E2E_TMP/m1"
NMETRICS=1 # /metrics requests, each with its request line
M=$E2E_TMP/m1
check "metrics declare the latency histogram" \
    grep -q '^# TYPE certsvc_http_request_duration_seconds histogram$' "$M"
routes=$(sed -nE 's/^certsvc_http_request_duration_seconds_count\{route="([^"]*)"\} .*/\1/p' "$M")
nroutes=$(printf '%s\n' "$routes" | grep -c .)
check "a histogram for each route used (>= 8)" test "$nroutes" -ge 8
bad=
while IFS= read -r r; do
	[ -z "$r" ] && continue
	cnt=$(grep -F "certsvc_http_request_duration_seconds_count{route=\"$r\"} " "$M" | awk '{print $2}')
	inf=$(grep -F "certsvc_http_request_duration_seconds_bucket{route=\"$r\",le=\"+Inf\"} " "$M" | awk '{print $2}')
	req=$(grep -F "certsvc_http_requests_total{route=\"$r\"," "$M" | awk '{s += $2} END {print s + 0}')
	mono=$(grep -F "certsvc_http_request_duration_seconds_bucket{route=\"$r\"," "$M" |
	    awk 'BEGIN {ok = 1} {if ($2 < prev) ok = 0; prev = $2} END {print ok}')
	nb=$(grep -cF "certsvc_http_request_duration_seconds_bucket{route=\"$r\"," "$M")
	[ "$cnt" = "$inf" ] || bad="$bad $r: count $cnt != +Inf $inf;"
	[ "$cnt" = "$req" ] || bad="$bad $r: count $cnt != requests $req;"
	[ "$mono" = 1 ] || bad="$bad $r: buckets not cumulative;"
	[ "$nb" = 19 ] || bad="$bad $r: $nb buckets;"
done <<<"$routes"
expect_eq "every route: _count == +Inf bucket == requests, 19 cumulative buckets" "$bad" ""
check "the issuance is in its histogram" \
    grep -q '^certsvc_http_request_duration_seconds_count{route="/v1/licences"} 1$' "$M"
sum=$(sed -nE 's/^certsvc_http_request_duration_seconds_sum\{route="\/v1\/licences"\} (.*)/\1/p' "$M")
check "its _sum is a positive number of seconds below 10" \
    awk -v s="$sum" 'BEGIN {exit !(s > 0 && s < 10)}'
seal=$(sed -nE 's/^certsvc_token_purpose_signatures_total\{purpose="seal"\} ([0-9]+)$/\1/p' "$M")
check "token signatures by purpose: the seal signed (>= 1)" test "${seal:-0}" -ge 1
check "token signatures by purpose: ca and ocsp signed too" \
    sh -c "grep -Eq '^certsvc_token_purpose_signatures_total\{purpose=\"ca\"\} [1-9]' '$M' &&
        grep -Eq '^certsvc_token_purpose_signatures_total\{purpose=\"ocsp\"\} [1-9]' '$M'"
total=$(sed -nE 's/^certsvc_token_signatures_total ([0-9]+)$/\1/p' "$M")
byp=$(sed -nE 's/^certsvc_token_purpose_signatures_total\{[^}]*\} ([0-9]+)$/\1/p' "$M" | awk '{s += $1} END {print s}')
expect_eq "signatures by purpose add up to the total" "$byp" "$total"
expect_eq "the seal latency histogram counts the seal signatures" \
    "$(sed -nE 's/^certsvc_token_sign_duration_seconds_count\{purpose="seal"\} ([0-9]+)$/\1/p' "$M")" "$seal"
check "pool waits and failures are exported" \
    sh -c "grep -q '^certsvc_token_pool_wait_seconds_total ' '$M' && grep -q '^certsvc_token_pool_timeouts_total ' '$M' &&
        grep -q '^certsvc_token_purpose_sign_failures_total{purpose=\"seal\"} 0$' '$M'"
expect_eq "audit events: the head's sequence number" \
    "$(sed -nE 's/^certsvc_audit_events_total ([0-9]+)$/\1/p' "$M")" \
    "$(sqlite3 "$D/certsvc.db" 'SELECT max(seq) FROM audit_events')"
age=$(sed -nE 's/^certsvc_audit_checkpoint_age_seconds (-?[0-9]+)$/\1/p' "$M")
check "checkpoint age: certsvcd signed one at start, seconds ago" test -n "$age" -a "${age:-99}" -ge 0 -a "${age:-99}" -lt 60
for g in 'certsvc_ocsp_age_seconds' 'certsvc_crl_age_seconds\{ca="issuing"\}'; do
	v=$(grep -E "^$g " "$M" | awk '{print $2}')
	check "$g is fresh (0..60 s)" test -n "$v" -a "${v:-99}" -ge 0 -a "${v:-99}" -lt 60
done
v=$(grep -E '^certsvc_crl_expiry_seconds\{ca="issuing"\} ' "$M" | awk '{print $2}')
check "the CRL's nextUpdate is ahead (about a day)" test -n "$v" -a "${v:-0}" -gt 3600
# The refresher signs the issued licence's status list within seconds.
for _ in $(seq 1 50); do
	curl -s "$U/metrics" >"$E2E_TMP/m2"
	NMETRICS=$((NMETRICS + 1))
	grep -Eq '^certsvc_status_lists [1-9]' "$E2E_TMP/m2" && break
	sleep 0.2
done
check "a status list is signed and counted" grep -Eq '^certsvc_status_lists [1-9]' "$E2E_TMP/m2"
v=$(sed -nE 's/^certsvc_status_list_age_seconds (-?[0-9]+)$/\1/p' "$E2E_TMP/m2")
check "its age is fresh (0..60 s)" test -n "$v" -a "${v:-99}" -ge 0 -a "${v:-99}" -lt 60
v=$(sed -nE 's/^certsvc_status_list_expiry_seconds (-?[0-9]+)$/\1/p' "$E2E_TMP/m2")
check "its exp is ahead" test -n "$v" -a "${v:-0}" -gt 3600
check "every sample has HELP and TYPE" sh -c "
    for n in \$(grep -v '^#' '$M' | sed -E 's/[{ ].*//; s/_(bucket|sum|count)\$//' | sort -u); do
        grep -q \"^# TYPE \$n \" '$M' || grep -q \"^# TYPE \${n}_\" '$M' || { echo \"no TYPE: \$n\"; exit 1; }
    done"

# --- the log ----------------------------------------------------------------
# Info lines reach the file within 100 ms (buffered): wait for all of them.
log_wait "$JLOG" '"msg":"request"' $((NREQ + NMETRICS))
check "every log line is a JSON object with time, level and msg" \
    jq -e -s 'length > 0 and all(.[]; (.time | type) == "string" and (.level | IN("error","warn","info","debug")) and (.msg | type) == "string")' "$JLOG"
jq -c 'select(.msg == "request")' "$JLOG" >"$E2E_TMP/requests.jsonl"
n=$(grep -c '"path":"/metrics"' "$E2E_TMP/requests.jsonl")
expect_eq "one request line per request (and one for /metrics)" \
    "$(wc -l <"$E2E_TMP/requests.jsonl") $n" "$((NREQ + NMETRICS)) $NMETRICS"
check "request lines carry request_id, route, method, status and latency_ms" \
    jq -e -s 'all(.[]; (.request_id | test("^[0-9a-f]{32}$")) and (.route | type) == "string" and
        (.method | IN("GET","POST")) and (.status | type) == "number" and (.latency_ms | type) == "number")' \
    "$E2E_TMP/requests.jsonl"
check "latency_ms has microsecond precision" \
    grep -Eq '"latency_ms":[0-9]+\.[0-9]{3}[,}]' "$E2E_TMP/requests.jsonl"
ISSUER_ID=$(sqlite3 "$D/certsvc.db" "SELECT id FROM clients WHERE role = 'issuer' LIMIT 1" 2>/dev/null)
expect_eq "the issuance's line names the issuer client" \
    "$(jq -r 'select(.route == "/v1/licences") | .client_id' "$E2E_TMP/requests.jsonl")" "$ISSUER_ID"
expect_eq "the issuance's line: 201 and its request id" \
    "$(jq -r 'select(.route == "/v1/licences") | "\(.status) \(.request_id | length)"' "$E2E_TMP/requests.jsonl")" "201 32"
expect_eq "the 401 line has no client id" \
    "$(jq -r 'select(.status == 401) | .client_id // "none"' "$E2E_TMP/requests.jsonl")" none
expect_eq "the holder's line names the holder client, a client id only" \
    "$(jq -r 'select(.route == "/v1/holder/licences" and .status == 200) | .client_id | test("^C-[0-9a-f]+$")' "$E2E_TMP/requests.jsonl")" true
PIN=$(head -1 "$D/pin")
for what in ISSUER VERIFIER HOLDER HTOKEN IDNUM PIN; do
	if grep -qF -- "${!what}" "$JLOG" "$E2E_TMP/stderr.log"; then
		fail "the log does not hold \$$what"
	else
		ok "the log does not hold \$$what"
	fi
done
check_fails "the log holds no Authorization header or bearer token" \
    grep -Eqi 'bearer|authorization|cs_[A-Za-z0-9_-]{43}' "$JLOG" "$E2E_TMP/stderr.log"

# --- SIGHUP reopens log_file -------------------------------------------------
mv "$JLOG" "$JLOG.1"
kill -HUP "$PID"
# Logged right after the reopen, so into the new file.
log_wait "$JLOG" 'SIGHUP: reloading'
curl -s -o /dev/null "$U/healthz"
log_wait "$JLOG" '"path":"/healthz"'
check "after SIGHUP certsvcd is still running" kill -0 "$PID"
check "after SIGHUP the new request goes to a new log_file" \
    jq -e -s 'map(select(.msg == "request")) | length == 1 and .[0].path == "/healthz"' "$JLOG"
check "the rotated file keeps what was written before" \
    jq -e -s 'map(select(.path == "/healthz")) | length == 1' "$JLOG.1"
stop_daemon
expect_match "the new file says stopped" "$(cat "$JLOG")" '"msg":"stopped"'
check_fails "no sanitizer report" grep -Eq 'Sanitizer|runtime error' "$E2E_TMP/stderr.log" "$JLOG" "$JLOG.1"

# --- log_level = warn: no request lines for a 200 -------------------------
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
: >"$JLOG"
CERTSVC_LISTEN=127.0.0.1:$PORT CERTSVC_LOG_FILE=$JLOG CERTSVC_LOG_LEVEL=warn "$DAEMON" \
    --config "$D/certsvc.conf" >"$E2E_TMP/stderr.log" 2>&1 &
PID=$!
E2E_PIDS+=("$PID")
for _ in $(seq 1 100); do
	curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
	sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"
sleep 0.3
check "log_level=warn: certsvcd answers" kill -0 "$PID"
stop_daemon # after it, nothing can still be buffered
expect_eq "log_level=warn: no info line at all (no request line for a 200)" \
    "$(grep -c '"level":"info"' "$JLOG")" 0

e2e_summary
