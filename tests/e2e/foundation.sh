#!/usr/bin/env bash
# Foundation end to end: init into a temp dir, idempotence, the CA chain with
# openssl, certsvcd's endpoints with curl, token keys with pkcs11-tool, the
# admin CLI's errors and exit codes, and a clean SIGTERM shutdown.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
# --- init ---------------------------------------------------------------
out=$("$ADMIN" init --data-dir "$D" 2>&1); rc=$?
expect_eq "init exits 0" "$rc" 0
for f in certsvc.conf certsvc.db softhsm2.conf pin so-pin ca/root.pem ca/issuing.pem; do
	check "init created $f" test -s "$D/$f"
done
check "init created tokens/" test -d "$D/tokens"
expect_eq "pin file is mode 600" "$(stat -c %a "$D/pin")" 600
expect_eq "so-pin file is mode 600" "$(stat -c %a "$D/so-pin")" 600
expect_eq "data dir is mode 700" "$(stat -c %a "$D")" 700
before=$(sha256sum "$D/ca/root.pem" "$D/ca/issuing.pem" "$D/certsvc.conf")
out=$("$ADMIN" init --data-dir "$D" 2>&1); rc=$?
expect_eq "second init exits 0" "$rc" 0
expect_match "second init says nothing to do" "$out" "nothing to do"
expect_eq "second init changed no file" \
    "$(sha256sum "$D/ca/root.pem" "$D/ca/issuing.pem" "$D/certsvc.conf")" "$before"
out=$("$ADMIN" init --data-dir "$D" --json 2>&1)
expect_match "init --json reports no change" "$out" '"changed": false'

# --- the CA with openssl ------------------------------------------------
check "openssl verify -x509_strict issuing against root" \
    openssl verify -x509_strict -CAfile "$D/ca/root.pem" "$D/ca/issuing.pem"
check "openssl verify root self-signed" \
    openssl verify -x509_strict -CAfile "$D/ca/root.pem" "$D/ca/root.pem"
rt=$(openssl x509 -in "$D/ca/root.pem" -noout -text)
it=$(openssl x509 -in "$D/ca/issuing.pem" -noout -text)
expect_match "root: basicConstraints critical CA:TRUE" "$rt" 'Basic Constraints: critical'
expect_match "root: keyUsage critical cert+CRL sign" \
    "$(printf '%s' "$rt" | grep -A1 'Key Usage: critical')" 'Certificate Sign, CRL Sign'
expect_match "root: subject key identifier" "$rt" 'Subject Key Identifier'
expect_match "issuing: pathlen 0" "$it" 'CA:TRUE, pathlen:0'
expect_match "issuing: keyUsage critical" "$it" 'Key Usage: critical'
expect_match "issuing: AKI" "$it" 'Authority Key Identifier'
expect_match "issuing: CRL distribution point" "$it" 'URI:http://127.0.0.1:8080/crl/root.crl'
expect_match "issuing: OCSP URL" "$it" 'OCSP - URI:http://127.0.0.1:8080/ocsp'
expect_match "issuing: caIssuers URL" "$it" 'CA Issuers - URI:http://127.0.0.1:8080/ca/root.cer'
rski=$(printf '%s' "$rt" | grep -A1 'Subject Key Identifier' | tail -1 | tr -d ' ')
iaki=$(printf '%s' "$it" | grep -A1 'Authority Key Identifier' | tail -1 | tr -d ' ' | sed 's/^keyid://')
expect_eq "issuing AKI = root SKI" "$iaki" "$rski"
expect_match "root valid 10 years" \
    "$(openssl x509 -in "$D/ca/root.pem" -noout -enddate)" "notAfter=.* 20(3[5-9])"

# --- token keys with pkcs11-tool (test token: the PIN on argv is a test-only shortcut)
export SOFTHSM2_CONF=$D/softhsm2.conf
PIN=$(head -1 "$D/pin")
objs=$(pkcs11-tool --module "$MODULE" --token-label certsvc --login --pin "$PIN" \
    --list-objects --type privkey 2>&1)
expect_match "pkcs11-tool lists ca-root" "$objs" 'label: +ca-root'
expect_match "pkcs11-tool lists ca-issuing-1" "$objs" 'label: +ca-issuing-1'
expect_match "private keys sensitive, never extractable" "$objs" \
    'Access: +sensitive, always sensitive, never extractable'
# pkcs11-tool refuses to read private keys on its own side, so it cannot show
# the token's refusal; tests/pkcs11/check_p11.c reads CKA_VALUE /
# CKA_PRIVATE_EXPONENT directly and expects CKR_ATTRIBUTE_SENSITIVE.
unset PIN SOFTHSM2_CONF

# --- admin CLI ------------------------------------------------------------
out=$("$ADMIN" key generate --data-dir "$D" --label e2e-p384 --alg p384 2>&1); rc=$?
expect_eq "key generate exits 0" "$rc" 0
expect_match "key generate prints the URI" "$out" '^pkcs11:.*object=e2e-p384'
out=$("$ADMIN" key list --data-dir "$D" --json 2>&1)
expect_match "key list --json shows the new key" "$out" '"label": "e2e-p384"'
expect_match "key list shows ca-root purpose" "$out" '"purpose": "ca-root"'
"$ADMIN" key generate --data-dir "$D" --label e2e-p384 >/dev/null 2>&1
expect_eq "duplicate key label exits 4" "$?" 4
"$ADMIN" key generate --data-dir "$D" >/dev/null 2>&1
expect_eq "key generate without --label exits 2" "$?" 2
"$ADMIN" key generate --data-dir "$D" --label x --alg dsa >/dev/null 2>&1
expect_eq "unknown algorithm exits 2" "$?" 2
"$ADMIN" frobnicate >/dev/null 2>&1
expect_eq "unknown command exits 2" "$?" 2
"$ADMIN" ca show --data-dir "$E2E_TMP/nowhere" >/dev/null 2>&1
expect_eq "ca show on a missing data dir exits 3" "$?" 3
out=$("$ADMIN" ca show --data-dir "$D" --json 2>&1)
expect_match "ca show --json names the root subject" "$out" '"subject": ".*certsvc Root CA'
out=$("$ADMIN" token status --data-dir "$D" --json 2>&1)
expect_match "token status: logged in" "$out" '"logged_in": true'
for c in "init" "token status" "key generate" "key list" "ca init" "ca show"; do
	# shellcheck disable=SC2086
	out=$("$ADMIN" $c --help 2>&1); rc=$?
	expect_eq "'$c --help' exits 0" "$rc" 0
	expect_match "'$c --help' shows usage" "$out" "^usage: certsvc-admin $c"
done
out=$(CERTSVC_PIN=wrong-pin "$ADMIN" token status --data-dir "$D" 2>&1); rc=$?
expect_eq "wrong PIN exits 5" "$rc" 5
if printf '%s' "$out" | grep -q wrong-pin; then fail "wrong PIN is not echoed"; else ok "wrong PIN is not echoed"; fi

# --- certsvcd -------------------------------------------------------------
LOG=$E2E_TMP/certsvcd.log
if start_daemon "$D" "$LOG"; then
	U=http://127.0.0.1:$PORT
	expect_eq "GET /healthz 200" "$(curl -s -o /dev/null -w '%{http_code}' $U/healthz)" 200
	out=$(curl -s -w ' %{http_code}' $U/readyz)
	expect_match "GET /readyz 200 ready" "$out" '"status":"ready".* 200$'
	curl -s -o "$E2E_TMP/root.pem" $U/ca/root.pem
	check "GET /ca/root.pem equals ca/root.pem" cmp "$E2E_TMP/root.pem" "$D/ca/root.pem"
	curl -s -o "$E2E_TMP/issuing.pem" $U/ca/issuing.pem
	check "GET /ca/issuing.pem equals ca/issuing.pem" cmp "$E2E_TMP/issuing.pem" "$D/ca/issuing.pem"
	curl -s -o "$E2E_TMP/root.cer" $U/ca/root.cer
	openssl x509 -in "$D/ca/root.pem" -outform DER -out "$E2E_TMP/root.der"
	check "GET /ca/root.cer is the DER root" cmp "$E2E_TMP/root.cer" "$E2E_TMP/root.der"
	expect_match "ca/root.cer content type" \
	    "$(curl -s -D - -o /dev/null $U/ca/root.cer)" 'application/pkix-cert'
	out=$(curl -s -w ' %{http_code}' $U/no/such/thing)
	expect_match "unknown path: 404 with JSON error" "$out" '^\{"error":\{"code":"not_found","message":".+"\}\} 404$'
	out=$(curl -s -D - -X POST $U/healthz)
	expect_match "POST /healthz: 405" "$out" '^HTTP/1.1 405'
	expect_match "405 names Allow: GET" "$out" 'Allow: GET'
	expect_eq "GET /ca/nope.pem 404" "$(curl -s -o /dev/null -w '%{http_code}' $U/ca/nope.pem)" 404
	m=$(curl -s $U/metrics)
	expect_match "metrics: request counter by route and code" "$m" \
	    'certsvc_http_requests_total\{route="/healthz",code="200"\} 1'
	expect_match "metrics: 404 counted" "$m" 'certsvc_http_requests_total\{route="other",code="404"\} [0-9]+'
	expect_match "metrics: token signatures" "$m" '^certsvc_token_signatures_total [0-9]+'
	expect_match "metrics: token sign latency" "$m" 'certsvc_token_sign_seconds_count [0-9]+'
	expect_match "metrics: token present" "$m" 'certsvc_token_present 1'
	expect_match "metrics content type" \
	    "$(curl -s -D - -o /dev/null $U/metrics)" 'text/plain; version=0.0.4'
	stop_daemon; rc=$?
	expect_eq "SIGTERM: certsvcd exits 0" "$rc" 0
	expect_match "log says stopped" "$(cat "$LOG")" '"msg":"stopped"'
	if grep -q "$(head -1 "$D/pin")" "$LOG"; then fail "PIN not in the log"; else ok "PIN not in the log"; fi
else
	fail "certsvcd starts" "$(cat "$LOG")"
fi

# certsvcd with a wrong PIN refuses to start, without echoing it.
out=$(CERTSVC_PIN=not-the-pin CERTSVC_LISTEN=127.0.0.1:0 timeout 20 "$DAEMON" --config "$D/certsvc.conf" 2>&1); rc=$?
expect_eq "certsvcd with a wrong PIN exits 1" "$rc" 1
if printf '%s' "$out" | grep -q not-the-pin; then fail "daemon does not echo the wrong PIN"; else ok "daemon does not echo the wrong PIN"; fi

e2e_summary
