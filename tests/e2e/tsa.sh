#!/usr/bin/env bash
# The timestamp authority end to end (issue #7) with independent clients:
# openssl ts makes queries and verifies replies (query file and data forms),
# curl posts them; wrong Content-Type, oversized bodies, garbage, SHA-1 and a
# foreign policy get their answers; the TSA certificate has a critical EKU
# timeStamping and OCSP answers for it.  Then CAdES-T licence seals: openssl
# cms -verify still accepts them, the unsigned attribute id-smime-aa-
# timeStampToken is there, POST /v1/verify reports the proven time, a seal
# revoked after sealing stays valid; timestamp_seals = 0 gives CAdES-BES
# seals and timestamp_reports = 1 timestamped reports.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
W=$E2E_TMP/w
mkdir -p "$W"
out=$("$ADMIN" init --demo --data-dir "$D" 2>&1); rc=$?
expect_eq "init --demo exits 0" "$rc" 0
T=$D/demo-tokens.json
ISSUER=$(jq -r .issuer "$T"); VERIFIER=$(jq -r .verifier "$T"); SEAL=$(jq -r .seal "$T")
jq -c .sample_licence_request "$T" >"$W/req.json"
ROOT=$D/ca/root.pem ISS=$D/ca/issuing.pem

LOG=$E2E_TMP/certsvcd.log
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT

tsa() { # tsa QUERY REPLY [Content-Type] -> the HTTP status
	curl -s -o "$2" -w '%{http_code}' --data-binary "@$1" \
	    -H "Content-Type: ${3:-application/timestamp-query}" "$U/tsa"
}
tsverify() { openssl ts -verify -in "$1" "${@:2}" -CAfile "$ROOT" -untrusted "$ISS" 2>&1; }
reply_text() { openssl ts -reply -in "$1" -text 2>&1; }

# --- RFC 3161 over HTTP with openssl ts ---------------------------------------
head -c 5000 /dev/urandom >"$W/file"
openssl ts -query -data "$W/file" -sha256 -cert -out "$W/q.tsq" 2>/dev/null
hdrs=$(curl -s -D - -o "$W/r.tsr" --data-binary "@$W/q.tsq" \
    -H 'Content-Type: application/timestamp-query' "$U/tsa")
expect_match "POST /tsa: 200" "$hdrs" "^HTTP/1.1 200"
expect_match "POST /tsa: Content-Type application/timestamp-reply" "$hdrs" \
    "Content-Type: application/timestamp-reply"
expect_match "openssl ts -verify -queryfile: OK" "$(tsverify "$W/r.tsr" -queryfile "$W/q.tsq")" \
    "Verification: OK"
expect_match "openssl ts -verify -data: OK" "$(tsverify "$W/r.tsr" -data "$W/file")" \
    "Verification: OK"
head -c 5000 /dev/urandom >"$W/other"
check_fails "another file does not verify against the reply" \
    openssl ts -verify -in "$W/r.tsr" -data "$W/other" -CAfile "$ROOT" -untrusted "$ISS"
txt=$(reply_text "$W/r.tsr")
expect_match "granted" "$txt" "Status: Granted"
expect_match "TSTInfo policy is certsvc's (UUID arc)" "$txt" \
    "Policy OID: 2\.25\.141425596893528269318560698155393407238\.1"
expect_match "the nonce is echoed" "$txt" "Nonce: 0x[0-9A-F]+"
expect_match "accuracy 1 s" "$txt" "Accuracy: 0x01 seconds"
expect_match "serial is 128 bits" "$txt" "Serial number: 0x[0-9A-F]{30,32}$"
openssl ts -query -data "$W/file" -sha512 -cert -out "$W/q512.tsq" 2>/dev/null
expect_eq "SHA-512 query: 200" "$(tsa "$W/q512.tsq" "$W/r512.tsr")" 200
expect_match "SHA-512 reply verifies" "$(tsverify "$W/r512.tsr" -queryfile "$W/q512.tsq")" \
    "Verification: OK"
openssl ts -query -data "$W/file" -sha256 -tspolicy 2.25.141425596893528269318560698155393407238.1 \
    -cert -out "$W/qpol.tsq" 2>/dev/null
tsa "$W/qpol.tsq" "$W/rpol.tsr" >/dev/null
expect_match "our policy asked for: granted" "$(reply_text "$W/rpol.tsr")" "Status: Granted"

# --- what is not a good query --------------------------------------------------
expect_eq "wrong Content-Type: 415" \
    "$(tsa "$W/q.tsq" "$W/x" application/octet-stream)" 415
expect_eq "no Content-Type: 415" "$(curl -s -o /dev/null -w '%{http_code}' \
    --data-binary "@$W/q.tsq" -H 'Content-Type:' "$U/tsa")" 415
head -c 8192 /dev/urandom >"$W/big"
expect_eq "a body over 4096 bytes: 413" "$(tsa "$W/big" "$W/x")" 413
printf 'this is not DER' >"$W/garbage"
expect_eq "garbage: 200 (a rejection is an answer)" "$(tsa "$W/garbage" "$W/rg.tsr")" 200
txt=$(reply_text "$W/rg.tsr")
expect_match "garbage: rejection" "$txt" "Status: Rejected"
expect_match "garbage: badDataFormat" "$txt" "wrong format"
openssl ts -query -data "$W/file" -sha1 -cert -out "$W/q1.tsq" 2>/dev/null
tsa "$W/q1.tsq" "$W/r1.tsr" >/dev/null
txt=$(reply_text "$W/r1.tsr")
expect_match "SHA-1: rejection with badAlg" "$txt" "unsupported algorithm"
openssl ts -query -data "$W/file" -sha256 -tspolicy 1.2.3.4 -out "$W/qp.tsq" 2>/dev/null
tsa "$W/qp.tsq" "$W/rp.tsr" >/dev/null
expect_match "another policy: unacceptedPolicy" "$(reply_text "$W/rp.tsr")" \
    "policy is not supported"

# --- the TSA certificate ---------------------------------------------------------
openssl ts -reply -in "$W/r.tsr" -token_out -out "$W/tok.der" 2>/dev/null
openssl pkcs7 -inform DER -in "$W/tok.der" -print_certs 2>/dev/null |
    awk '/BEGIN CERT/{n++} n==1' | sed -n '/BEGIN CERT/,/END CERT/p' >"$W/tsa.pem"
x=$(openssl x509 -in "$W/tsa.pem" -noout -text 2>&1)
expect_match "the token carries the TSA certificate" "$x" "CN *= *certsvc Timestamp Authority"
expect_match "TSA certificate: critical extendedKeyUsage" "$x" "X509v3 Extended Key Usage: critical"
expect_eq "TSA certificate: timeStamping only" \
    "$(printf '%s\n' "$x" | grep -A1 'Extended Key Usage' | tail -1 | tr -d ' ')" "TimeStamping"
check "TSA certificate chains to the root" openssl verify -CAfile "$ROOT" -untrusted "$ISS" \
    -purpose timestampsign "$W/tsa.pem"
expect_eq "one TSA certificate in service_certs" \
    "$(sqlite3 "$D/certsvc.db" "SELECT count(*) FROM service_certs WHERE purpose = 'tsa'")" 1
n=$(sqlite3 "$D/certsvc.db" "SELECT count(*) FROM audit_events WHERE action = 'tsa.certify'")
expect_eq "its certification is audited (tsa.certify)" "$n" 1
for _ in $(seq 1 50); do
	res=$(openssl ocsp -issuer "$ISS" -cert "$W/tsa.pem" -url "$U/ocsp" -CAfile "$ROOT" -no_nonce 2>&1)
	printf '%s' "$res" | grep -q ': good' && break
	sleep 0.1
done
expect_match "OCSP knows the TSA certificate: good" "$res" "tsa.pem: good"

# --- CAdES-T licence seals ------------------------------------------------------
issue() { # issue KEY -> the issuance response
	curl -s -X POST "$U/v1/licences" -H "Authorization: Bearer $ISSUER" \
	    -H "Idempotency-Key: $1" -H 'Content-Type: application/json' --data-binary "@$W/req.json"
}
verify() { # verify FILE -> body
	curl -s -X POST "$U/v1/verify" -H "Authorization: Bearer $VERIFIER" \
	    -H 'Content-Type: application/json' --data-binary "@$1"
}
check_of() { jq -r --arg n "$2" '.checks[] | select(.name == $n) | .result + ": " + .reason' "$1"; }
unpack() { # unpack RESPONSE_FILE PREFIX: PREFIX.json (document), PREFIX.p7s (seal)
	jq -r .envelope.document "$1" | base64 -d >"$2.json"
	jq -r .envelope.seal "$1" | base64 -d >"$2.p7s"
	jq -c '{envelope: .envelope}' "$1" >"$2-env.json"
}

issue tsa-1 >"$W/lic1.json"
ID=$(jq -r .id "$W/lic1.json")
expect_match "a licence is issued (timestamp_seals = 1, the default)" "$ID" '^DEMO01-'
unpack "$W/lic1.json" "$W/l1"
check "openssl cms -verify accepts the CAdES-T seal" openssl cms -verify -binary -inform DER \
    -in "$W/l1.p7s" -content "$W/l1.json" -CAfile "$ROOT" -purpose any -out /dev/null
p=$(openssl cms -cmsout -print -inform DER -in "$W/l1.p7s" 2>&1)
expect_match "unsignedAttrs hold id-smime-aa-timeStampToken (1.2.840.113549.1.9.16.2.14)" \
    "$p" "id-smime-aa-timeStampToken \(1\.2\.840\.113549\.1\.9\.16\.2\.14\)"
expect_eq "exactly one timestamp attribute" "$(printf '%s\n' "$p" | grep -c 'id-smime-aa-timeStampToken')" 1
verify "$W/l1-env.json" >"$W/v1.json"
expect_eq "POST /v1/verify: valid" "$(jq -r .result "$W/v1.json")" valid
ts=$(check_of "$W/v1.json" timestamp)
expect_match "the timestamp check passes with the proven time" "$ts" \
    "^pass: an RFC 3161 timestamp proves the seal existed at 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z"
jq -r .report.document "$W/v1.json" | base64 -d >"$W/report1.json"
expect_match "the signed report records the proven time" \
    "$(jq -r '.checks[] | select(.name == "timestamp") | .result + ": " + .reason' "$W/report1.json")" \
    "^pass: .*existed at 20"
# The same seal with a changed document: the signature fails, and so would
# a timestamp pasted from another seal (the imprint is of the signature).
issue tsa-2 >"$W/lic2.json"
unpack "$W/lic2.json" "$W/l2"
expect_match "a second licence is issued" "$(jq -r .id "$W/lic2.json")" '^DEMO01-'

# --- timestamp_seals = 0: CAdES-BES -----------------------------------------------
stop_daemon
CERTSVC_TIMESTAMP_SEALS=0 start_daemon "$D" "$LOG.bes" || fail "certsvcd restarts" "$(cat "$LOG.bes")"
U=http://127.0.0.1:$PORT
issue tsa-3 >"$W/lic3.json"
unpack "$W/lic3.json" "$W/l3"
check "timestamp_seals = 0: openssl cms -verify accepts the seal" openssl cms -verify -binary \
    -inform DER -in "$W/l3.p7s" -content "$W/l3.json" -CAfile "$ROOT" -purpose any -out /dev/null
p=$(openssl cms -cmsout -print -inform DER -in "$W/l3.p7s" 2>&1)
expect_eq "timestamp_seals = 0: unsignedAttrs absent" \
    "$(printf '%s\n' "$p" | grep -A1 'unsignedAttrs:' | tr -d ' \n')" "unsignedAttrs:<ABSENT>"
if printf '%s' "$p" | grep -q timeStampToken; then
	fail "timestamp_seals = 0: no timestamp attribute"
else
	ok "timestamp_seals = 0: no timestamp attribute"
fi
for _ in $(seq 1 50); do
	verify "$W/l3-env.json" >"$W/v3.json"
	[ "$(jq -r .result "$W/v3.json")" != null ] && break
	sleep 0.1
done
expect_eq "timestamp_seals = 0: the timestamp check is not applicable" \
    "$(check_of "$W/v3.json" timestamp | cut -d: -f1)" not_applicable

# --- timestamp_reports = 1 ---------------------------------------------------------
stop_daemon
CERTSVC_TIMESTAMP_REPORTS=1 start_daemon "$D" "$LOG.rep" || fail "certsvcd restarts" "$(cat "$LOG.rep")"
U=http://127.0.0.1:$PORT
for _ in $(seq 1 50); do
	verify "$W/l1-env.json" >"$W/v4.json"
	[ "$(jq -r .result "$W/v4.json")" = valid ] && break
	sleep 0.1
done
expect_eq "timestamp_reports = 1: valid" "$(jq -r .result "$W/v4.json")" valid
jq -r .report.document "$W/v4.json" | base64 -d >"$W/report4.json"
jq -r .report.seal "$W/v4.json" | base64 -d >"$W/report4.p7s"
check "the timestamped report verifies with openssl cms" openssl cms -verify -binary -inform DER \
    -in "$W/report4.p7s" -content "$W/report4.json" -CAfile "$ROOT" -out /dev/null
expect_match "the report carries a timestamp" \
    "$(openssl cms -cmsout -print -inform DER -in "$W/report4.p7s")" "id-smime-aa-timeStampToken"
out=$("$ADMIN" report verify --data-dir "$D" "$W/v4.json" 2>&1); rc=$?
expect_eq "certsvc-admin report verify accepts it" "$rc" 0
expect_match "certsvc-admin report verify: valid" "$out" 'result: +valid'

# --- a seal revoked after sealing: the timestamp proves the time ----------------
sleep 1 # the revocation must come after the timestamp's second
check "certsvc-admin seal revoke" "$ADMIN" seal revoke --data-dir "$D" --seal "$SEAL" --reason keyCompromise
for _ in $(seq 1 50); do
	verify "$W/l1-env.json" >"$W/v5.json"
	check_of "$W/v5.json" certificate_status | grep -q 'revoked' && break
	sleep 0.2
done
expect_match "revoked after sealing: certificate_status passes thanks to the timestamp" \
    "$(check_of "$W/v5.json" certificate_status)" "^pass: .*a timestamp proves the sealing"
verify "$W/l3-env.json" >"$W/v6.json"
expect_match "the CAdES-BES seal of the same seal: indeterminate" \
    "$(check_of "$W/v6.json" certificate_status)" "^indeterminate: .*no timestamp proves it"

stop_daemon; rc=$?
expect_eq "SIGTERM: certsvcd exits 0" "$rc" 0
if cat "$LOG"* | grep -Eq 'Sanitizer|runtime error'; then
	fail "no sanitizer report in the logs" "$(cat "$LOG"* | grep -E -A5 'Sanitizer|runtime error')"
else
	ok "no sanitizer report in the logs"
fi
e2e_summary
