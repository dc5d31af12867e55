#!/usr/bin/env bash
# HTTPS (issue #8): with tls_cert and tls_key certsvcd serves HTTPS only,
# TLS 1.2 or newer.  A CA and a certificate for 127.0.0.1 are made with
# openssl here; curl --cacert must succeed with TLS 1.2 and 1.3, and a
# TLS 1.1 handshake must fail (openssl s_client at security level 0 does
# offer TLS 1.1: a control server shows it).  A key readable by others or
# a certificate without its key stops certsvcd from starting.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
K=$E2E_TMP/tls
mkdir -p "$K"
"$ADMIN" init --demo --data-dir "$D" >/dev/null 2>&1 || { fail "init --demo"; e2e_summary; exit 1; }
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$K/ca.key" -out "$K/ca.pem" -days 2 \
    -subj "/CN=certsvc test TLS CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign >/dev/null 2>&1
openssl req "${ec[@]}" -keyout "$K/server.key" -out "$K/server.csr" -subj "/CN=127.0.0.1" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$K/ext"
openssl x509 -req -in "$K/server.csr" -CA "$K/ca.pem" -CAkey "$K/ca.key" -CAcreateserial \
    -days 1 -extfile "$K/ext" -out "$K/server.pem" >/dev/null 2>&1
cat "$K/server.pem" "$K/ca.pem" >"$K/chain.pem"
chmod 600 "$K/server.key"
check "test certificate for 127.0.0.1 made" openssl verify -CAfile "$K/ca.pem" "$K/server.pem"

# --- refusals at start-up ------------------------------------------------------
chmod 644 "$K/server.key"
CERTSVC_TLS_CERT=$K/chain.pem CERTSVC_TLS_KEY=$K/server.key CERTSVC_LISTEN=127.0.0.1:0 \
    timeout 20 "$DAEMON" --config "$D/certsvc.conf" >"$E2E_TMP/bad1.log" 2>&1
expect_eq "key readable by others: certsvcd exits 1" "$?" 1
expect_match "and says why" "$(cat "$E2E_TMP/bad1.log")" 'tls_key.*0600'
chmod 600 "$K/server.key"
CERTSVC_TLS_CERT=$K/chain.pem CERTSVC_LISTEN=127.0.0.1:0 \
    timeout 20 "$DAEMON" --config "$D/certsvc.conf" >"$E2E_TMP/bad2.log" 2>&1
expect_eq "certificate without key: certsvcd exits 1" "$?" 1
CERTSVC_TLS_CERT=$K/ca.pem CERTSVC_TLS_KEY=$K/server.key CERTSVC_LISTEN=127.0.0.1:0 \
    timeout 20 "$DAEMON" --config "$D/certsvc.conf" >"$E2E_TMP/bad3.log" 2>&1
expect_eq "certificate that is not the key's: certsvcd exits 1" "$?" 1
expect_match "and says so" "$(cat "$E2E_TMP/bad3.log")" 'tls_cert and tls_key do not match'

# --- serving -------------------------------------------------------------------
export CERTSVC_TLS_CERT=$K/chain.pem CERTSVC_TLS_KEY=$K/server.key
LOG=$E2E_TMP/certsvcd.log
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts with TLS" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=https://127.0.0.1:$PORT
expect_eq "curl --cacert: /healthz 200 over HTTPS" \
    "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$K/ca.pem" "$U/healthz")" 200
expect_eq "TLS 1.2 (curl --tls-max 1.2)" \
    "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$K/ca.pem" --tlsv1.2 --tls-max 1.2 "$U/healthz")" 200
expect_eq "TLS 1.3 (curl --tlsv1.3)" \
    "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$K/ca.pem" --tlsv1.3 "$U/healthz")" 200
check_fails "an unknown CA is refused by curl (the name and chain are checked)" \
    curl -sf -o /dev/null "$U/healthz"
check_fails "curl --tls-max 1.1 fails" \
    curl -sf -o /dev/null --cacert "$K/ca.pem" --tlsv1 --tls-max 1.1 "$U/healthz"
# s_client at security level 0 really offers TLS 1.1 (control below).
tls11() { # tls11 PORT: 0 when a TLS 1.1 handshake completes
	openssl s_client -connect "127.0.0.1:$1" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' \
	    </dev/null >"$E2E_TMP/s11.out" 2>&1
}
check_fails "openssl s_client -tls1_1: handshake refused" tls11 "$PORT"
check "openssl s_client -tls1_2: handshake completes" \
    openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -CAfile "$K/ca.pem" -verify_return_error </dev/null
CPORT=$((20000 + RANDOM % 20000))
openssl s_server -accept "$CPORT" -cert "$K/server.pem" -key "$K/server.key" -tls1_1 \
    -cipher 'DEFAULT:@SECLEVEL=0' -www >/dev/null 2>&1 &
SPID=$!
E2E_PIDS+=("$SPID")
sleep 0.5
check "control: the same s_client does TLS 1.1 with a server that allows it" tls11 "$CPORT"
kill "$SPID" 2>/dev/null
expect_eq "plain HTTP to the HTTPS port is not served" \
    "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" 000
# The API works as before over TLS.
T=$D/demo-tokens.json
jq -c .sample_licence_request "$T" >"$E2E_TMP/req.json"
st=$(curl -s -o "$E2E_TMP/lic.json" -w '%{http_code}' --cacert "$K/ca.pem" -X POST "$U/v1/licences" \
    -H "Authorization: Bearer $(jq -r .issuer "$T")" -H 'Idempotency-Key: tls-1' \
    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/req.json")
expect_eq "issuance over HTTPS: 201" "$st" 201
st=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$K/ca.pem" -X POST "$U/v1/verify" \
    -H "Authorization: Bearer $(jq -r .verifier "$T")" -H 'Content-Type: application/json' \
    --data-binary "{\"licence_id\":\"$(jq -r .id "$E2E_TMP/lic.json")\"}")
expect_eq "verification over HTTPS: 200" "$st" 200
stop_daemon; rc=$?
expect_eq "clean shutdown" "$rc" 0
e2e_summary
