#!/usr/bin/env bash
# Verification end to end (issue #5): POST /v1/verify in its three forms
# with the demo verifier token, the signed report checked by openssl cms
# and by certsvc-admin report verify, tampering on both sides, the 4xx
# answers, and a seal revoked after sealing (indeterminate, no timestamp).
source "$(dirname "$0")/lib.sh"
# CAdES-BES seals: the answers without a timestamp (tests/e2e/tsa.sh checks
# CAdES-T seals, the default).
export CERTSVC_TIMESTAMP_SEALS=0

D=$E2E_TMP/data
out=$("$ADMIN" init --demo --data-dir "$D" 2>&1); rc=$?
expect_eq "init --demo exits 0" "$rc" 0
T=$D/demo-tokens.json
ISSUER=$(jq -r .issuer "$T"); VERIFIER=$(jq -r .verifier "$T"); SEAL=$(jq -r .seal "$T")
jq -c .sample_licence_request "$T" >"$E2E_TMP/req.json"

LOG=$E2E_TMP/certsvcd.log
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT

verify() { # verify TOKEN FILE -> body, then the status on its own line
	curl -s -w '\n%{http_code}' -X POST "$U/v1/verify" -H "Authorization: Bearer $1" \
	    -H 'Content-Type: application/json' --data-binary "@$2"
}
body() { sed '$d'; }
status() { tail -n1; }

res=$(curl -s -X POST "$U/v1/licences" -H "Authorization: Bearer $ISSUER" \
    -H 'Idempotency-Key: verify-1' -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/req.json")
ID=$(printf '%s' "$res" | jq -r .id)
expect_match "a licence is issued" "$ID" '^DEMO01-'
printf '%s' "$res" | jq -c '{envelope: .envelope}' >"$E2E_TMP/v-env.json"
printf '%s' "$res" | jq -c '{document: .envelope.document, seal: .envelope.seal}' >"$E2E_TMP/v-pair.json"
jq -nc --arg id "$ID" '{licence_id: $id}' >"$E2E_TMP/v-id.json"

# The refresher certifies the report key within about a second of start.
for i in $(seq 1 50); do
	code=$(verify "$VERIFIER" "$E2E_TMP/v-id.json" | status)
	[ "$code" != 503 ] && break
	sleep 0.1
done
expect_eq "the report key is ready shortly after start" "$code" 200

# --- the three forms ----------------------------------------------------------
for form in env pair id; do
	res=$(verify "$VERIFIER" "$E2E_TMP/v-$form.json")
	expect_eq "POST /v1/verify ($form): 200" "$(printf '%s' "$res" | status)" 200
	printf '%s' "$res" | body >"$E2E_TMP/resp-$form.json"
	expect_eq "($form) result valid" "$(jq -r .result "$E2E_TMP/resp-$form.json")" valid
	expect_eq "($form) seven checks, in order" \
	    "$(jq -r '[.checks[].name] | join(",")' "$E2E_TMP/resp-$form.json")" \
	    document_format,seal_signature,certificate_chain,certificate_status,licence_status,validity_period,timestamp
	expect_eq "($form) every check passes but timestamp (none)" \
	    "$(jq -r '[.checks[].result] | join(",")' "$E2E_TMP/resp-$form.json")" \
	    pass,pass,pass,pass,pass,pass,not_applicable
	expect_eq "($form) names the licence" "$(jq -r '.licence_id + "/" + (.version|tostring)' "$E2E_TMP/resp-$form.json")" "$ID/1"
done

# --- the report: openssl cms and certsvc-admin ---------------------------------
R=$E2E_TMP/resp-env.json
jq -r .report.document "$R" | base64 -d >"$E2E_TMP/report.json"
jq -r .report.seal "$R" | base64 -d >"$E2E_TMP/report.p7s"
expect_eq "the report is certsvc-report/1" "$(jq -r .format "$E2E_TMP/report.json")" certsvc-report/1
expect_eq "the report records the result" "$(jq -r .result "$E2E_TMP/report.json")" valid
expect_eq "the report is canonical JSON (jq -S -c reproduces it)" \
    "$(jq -S -c . "$E2E_TMP/report.json")" "$(cat "$E2E_TMP/report.json")"
if grep -q "$(jq -r .sample_licence_request.holder.id_number "$T")" "$E2E_TMP/report.json"; then
	fail "the report holds no holder identifier"
else
	ok "the report holds no holder identifier"
fi
check "openssl cms -verify accepts the report (default purpose)" openssl cms -verify -binary \
    -inform DER -in "$E2E_TMP/report.p7s" -content "$E2E_TMP/report.json" \
    -CAfile "$D/ca/root.pem" -out /dev/null -signer "$E2E_TMP/report-signer.pem"
expect_match "signed by a report signer certificate" \
    "$(openssl x509 -in "$E2E_TMP/report-signer.pem" -noout -subject)" 'certsvc report signer'
expect_match "report signer certificate lives 48 hours" \
    "$(openssl x509 -in "$E2E_TMP/report-signer.pem" -noout -dates | tr '\n' ' ')" 'notBefore'
nb=$(date -d "$(openssl x509 -in "$E2E_TMP/report-signer.pem" -noout -startdate | cut -d= -f2)" +%s)
na=$(date -d "$(openssl x509 -in "$E2E_TMP/report-signer.pem" -noout -enddate | cut -d= -f2)" +%s)
expect_eq "notAfter - notBefore = 48 h" "$((na - nb))" 172800
n=$(sqlite3 "$D/certsvc.db" "SELECT count(*) FROM service_certs WHERE purpose = 'report'")
expect_eq "the report certificate is recorded in service_certs" "$n" 1
out=$("$ADMIN" report verify --data-dir "$D" "$R" 2>&1); rc=$?
expect_eq "certsvc-admin report verify (response): exit 0" "$rc" 0
expect_match "certsvc-admin report verify prints the result" "$out" 'result: +valid'
expect_match "certsvc-admin report verify prints the checks" "$out" 'seal_signature +pass'
jq .report "$R" >"$E2E_TMP/report-envelope.json"
out=$("$ADMIN" report verify --json --root "$D/ca/root.pem" "$E2E_TMP/report-envelope.json"); rc=$?
expect_eq "report verify --json (envelope alone): exit 0" "$rc" 0
expect_eq "report verify --json says authentic" "$(printf '%s' "$out" | jq -r .authentic)" true
check "report verify --help" "$ADMIN" report verify --help
jq -c '.report.document |= (@base64d | sub("\"result\":\"valid\""; "\"result\":\"valie\"") | @base64)' "$R" >"$E2E_TMP/forged.json"
out=$("$ADMIN" report verify --data-dir "$D" "$E2E_TMP/forged.json" 2>&1); rc=$?
expect_eq "a changed report: report verify exits 1" "$rc" 1
expect_match "a changed report: NOT authentic" "$out" 'NOT authentic'
jq -r .report.document "$E2E_TMP/forged.json" | base64 -d >"$E2E_TMP/forged-report.json"
check_fails "a changed report: openssl cms -verify fails" openssl cms -verify -binary \
    -inform DER -in "$E2E_TMP/report.p7s" -content "$E2E_TMP/forged-report.json" \
    -CAfile "$D/ca/root.pem" -out /dev/null

# --- a tampered licence ---------------------------------------------------------
doc=$(jq -r .envelope.document "$E2E_TMP/v-env.json" | base64 -d | sed 's/"version":1}$/"version":2}/' | base64 -w0)
jq -c --arg d "$doc" '.envelope.document = $d' "$E2E_TMP/v-env.json" >"$E2E_TMP/v-tampered.json"
res=$(verify "$VERIFIER" "$E2E_TMP/v-tampered.json")
expect_eq "tampered document: 200" "$(printf '%s' "$res" | status)" 200
expect_eq "tampered document: invalid" "$(printf '%s' "$res" | body | jq -r .result)" invalid
expect_eq "tampered document: seal_signature fails" \
    "$(printf '%s' "$res" | body | jq -r '.checks[] | select(.name == "seal_signature") | .result')" fail
expect_match "tampered document: the reason says why" \
    "$(printf '%s' "$res" | body | jq -r '.checks[] | select(.name == "seal_signature") | .reason')" 'does not cover'

# --- who may ask, and malformed requests ----------------------------------------
expect_eq "no token: 401" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/v1/verify" \
    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/v-id.json")" 401
expect_eq "issuer token: 403" "$(verify "$ISSUER" "$E2E_TMP/v-id.json" | status)" 403
printf '{"document":"not base64!","seal":"AAAA"}' >"$E2E_TMP/bad.json"
res=$(verify "$VERIFIER" "$E2E_TMP/bad.json")
expect_eq "bad base64: 400" "$(printf '%s' "$res" | status)" 400
expect_match "bad base64: names the member" "$(printf '%s' "$res" | body)" 'document: not base64'
printf '{"licence_id":"%s","version":9}' "$ID" >"$E2E_TMP/v9.json"
expect_eq "unknown version: 404" "$(verify "$VERIFIER" "$E2E_TMP/v9.json" | status)" 404
printf '{}' >"$E2E_TMP/empty.json"
expect_eq "empty object: 400" "$(verify "$VERIFIER" "$E2E_TMP/empty.json" | status)" 400

# --- a seal revoked after sealing: indeterminate without a timestamp -------------
sleep 1 # the revocation must come after the signing-time second
check "certsvc-admin seal revoke" "$ADMIN" seal revoke --data-dir "$D" --seal "$SEAL" --reason keyCompromise
res=$(verify "$VERIFIER" "$E2E_TMP/v-id.json")
expect_eq "after seal revoke: indeterminate" "$(printf '%s' "$res" | body | jq -r .result)" indeterminate
expect_match "after seal revoke: certificate_status says why" \
    "$(printf '%s' "$res" | body | jq -r '.checks[] | select(.name == "certificate_status") | .result + ": " + .reason')" \
    '^indeterminate: .*no timestamp proves it'

stop_daemon; rc=$?
expect_eq "SIGTERM: certsvcd exits 0" "$rc" 0
if grep -Eq 'Sanitizer|runtime error' "$LOG"; then fail "no sanitizer report in the log" "$(grep -E -A5 'Sanitizer|runtime error' "$LOG")"; else ok "no sanitizer report in the log"; fi
e2e_summary
