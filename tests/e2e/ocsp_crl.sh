#!/usr/bin/env bash
# OCSP and CRLs end to end (issue #5) with independent clients: openssl ocsp
# (POST, SHA-1 and SHA-256 CertIDs), curl for the GET form and the RFC 5019
# caching headers, openssl crl and openssl verify -crl_check; then
# 'certsvc-admin seal revoke' and the same clients see the revocation within
# a few seconds; garbage and a foreign CA's certificate get OCSP errors; a
# POST of another Content-Type, or none, gets 415.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
W=$E2E_TMP/w
mkdir -p "$W"
out=$("$ADMIN" init --demo --data-dir "$D" 2>&1); rc=$?
expect_eq "init --demo exits 0" "$rc" 0
SEAL=$(jq -r .seal "$D/demo-tokens.json")
"$ADMIN" seal show --data-dir "$D" --seal "$SEAL" --pem | sed -n '/BEGIN CERT/,/END CERT/p' >"$W/seal.pem"
check "seal show --pem gives the seal certificate" openssl x509 -in "$W/seal.pem" -noout
ROOT=$D/ca/root.pem ISS=$D/ca/issuing.pem

LOG=$E2E_TMP/certsvcd.log
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT

# The first refresh signs everything; until then OCSP says tryLater.
ocsp() { # ocsp CERT ISSUER [more openssl ocsp options]
	local cert=$1 issuer=$2
	shift 2
	openssl ocsp "$@" -issuer "$issuer" -cert "$cert" -url "$U/ocsp" -CAfile "$ROOT" -no_nonce 2>&1
}
for i in $(seq 1 50); do
	res=$(ocsp "$W/seal.pem" "$ISS")
	printf '%s' "$res" | grep -q ': good' && break
	sleep 0.1
done
expect_match "openssl ocsp: the seal is good" "$res" "seal.pem: good"
expect_match "openssl ocsp: the response verifies to the root" "$res" "Response verify OK"
res=$(ocsp "$W/seal.pem" "$ISS" -sha256)
expect_match "SHA-256 CertID: good" "$res" "seal.pem: good"
expect_match "SHA-256 CertID: verifies" "$res" "Response verify OK"
res=$(ocsp "$ISS" "$ROOT")
expect_match "the issuing CA certificate is good (root-signed answer)" "$res" "issuing.pem: good"
expect_match "the root-signed answer verifies" "$res" "Response verify OK"
res=$(ocsp "$W/seal.pem" "$ISS" -resp_text)
expect_match "responderID is byKey" "$res" "Responder Id: [0-9A-F]{40}"
expect_match "nextUpdate is 24 hours after thisUpdate" "$res" "Next Update: "
if printf '%s' "$res" | grep -q "Response Extensions"; then
	fail "pre-signed response carries no nonce"
else
	ok "pre-signed response carries no nonce"
fi
res=$(openssl ocsp -issuer "$ISS" -cert "$W/seal.pem" -url "$U/ocsp" -CAfile "$ROOT" 2>&1)
expect_match "a request with a nonce gets the same good answer" "$res" "seal.pem: good"

# --- the GET form and RFC 5019 section 6 headers ---------------------------
openssl ocsp -issuer "$ISS" -cert "$W/seal.pem" -no_nonce -reqout "$W/req.der" >/dev/null 2>&1
B=$(base64 -w0 "$W/req.der" | jq -sRr @uri)
hdrs=$(curl -s -D - -o "$W/get.der" "$U/ocsp/$B")
expect_match "GET /ocsp/{b64}: 200" "$hdrs" "^HTTP/1.1 200"
expect_match "GET: Content-Type application/ocsp-response" "$hdrs" "Content-Type: application/ocsp-response"
expect_match "GET: Cache-Control max-age, public, no-transform, must-revalidate" "$hdrs" \
    "Cache-Control: max-age=[0-9]+, public, no-transform, must-revalidate"
expect_match "GET: Last-Modified" "$hdrs" "Last-Modified: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT"
expect_match "GET: Expires" "$hdrs" "Expires: [A-Z][a-z]{2}, [0-9]{2} "
expect_match "GET: ETag" "$hdrs" 'ETag: "[0-9a-f]{64}"'
age=$(printf '%s' "$hdrs" | sed -nE 's/.*max-age=([0-9]+).*/\1/p' | tr -d '\r')
if [ -n "$age" ] && [ "$age" -gt 80000 ] && [ "$age" -le 86400 ]; then
	ok "max-age is the time left until nextUpdate ($age s)"
else
	fail "max-age is the time left until nextUpdate" "$age"
fi
res=$(openssl ocsp -respin "$W/get.der" -issuer "$ISS" -cert "$W/seal.pem" -CAfile "$ROOT" 2>&1)
expect_match "GET response verifies and says good" "$res" "seal.pem: good"
# The dates are the response's own thisUpdate and nextUpdate, to the second.
this=$(printf '%s' "$res" | sed -nE 's/^[[:space:]]*This Update: (.*)$/\1/p' | head -1)
next=$(printf '%s' "$res" | sed -nE 's/^[[:space:]]*Next Update: (.*)$/\1/p' | head -1)
lm=$(printf '%s' "$hdrs" | sed -nE 's/^Last-Modified: (.*)\r?$/\1/p' | tr -d '\r')
ex=$(printf '%s' "$hdrs" | sed -nE 's/^Expires: (.*)\r?$/\1/p' | tr -d '\r')
expect_eq "Last-Modified is thisUpdate" "$(date -u -d "$lm" +%s 2>/dev/null)" \
    "$(date -u -d "$this" +%s 2>/dev/null)"
expect_eq "Expires is nextUpdate" "$(date -u -d "$ex" +%s 2>/dev/null)" \
    "$(date -u -d "$next" +%s 2>/dev/null)"
expect_eq "Last-Modified is an IMF-fixdate" "$lm" \
    "$(LC_ALL=C date -u -d "$this" '+%a, %d %b %Y %H:%M:%S GMT' 2>/dev/null)"
etag=$(printf '%s' "$hdrs" | sed -nE 's/^ETag: (.*)\r?$/\1/p' | tr -d '\r')
expect_eq "If-None-Match with the ETag: 304" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$U/ocsp/$B")" 304
B2=$(base64 -w0 "$W/req.der")
expect_eq "GET without URL-encoding is understood too" \
    "$(curl -s "$U/ocsp/$B2" | cmp - "$W/get.der" && echo same)" same

# --- CRLs --------------------------------------------------------------------
hdrs=$(curl -s -D - -o "$W/issuing.crl" "$U/crl/issuing.crl")
expect_match "GET /crl/issuing.crl: 200" "$hdrs" "^HTTP/1.1 200"
expect_match "CRL: Content-Type application/pkix-crl" "$hdrs" "Content-Type: application/pkix-crl"
expect_match "CRL: caching headers" "$hdrs" "Cache-Control: max-age=[0-9]+, public, no-transform, must-revalidate"
crldp=$(openssl x509 -in "$W/seal.pem" -noout -ext crlDistributionPoints)
expect_match "the seal certificate points at /crl/issuing.crl" "$crldp" "/crl/issuing.crl"
crldp=$(openssl x509 -in "$ISS" -noout -ext crlDistributionPoints)
expect_match "the issuing CA certificate points at /crl/root.crl" "$crldp" "/crl/root.crl"
check "openssl crl verifies the issuing CRL" openssl crl -inform DER -in "$W/issuing.crl" -CAfile "$ISS" -noout
txt=$(openssl crl -inform DER -in "$W/issuing.crl" -noout -text)
expect_match "issuing CRL is v2" "$txt" "Version 2"
expect_match "issuing CRL has authorityKeyIdentifier" "$txt" "Authority Key Identifier"
expect_match "issuing CRL has a CRL number" "$txt" "CRL Number"
expect_match "issuing CRL lists nothing yet" "$txt" "No Revoked Certificates"
n1=$(printf '%s' "$txt" | grep -A1 "CRL Number" | tail -1 | tr -d ' ')
curl -s -o "$W/root.crl" "$U/crl/root.crl"
check "openssl crl verifies the root CRL" openssl crl -inform DER -in "$W/root.crl" -CAfile "$ROOT" -noout
expect_eq "GET /crl/other.crl: 404" "$(curl -s -o /dev/null -w '%{http_code}' "$U/crl/other.crl")" 404
openssl crl -inform DER -in "$W/issuing.crl" -out "$W/issuing.crl.pem"
check "openssl verify -crl_check: the seal passes" openssl verify -crl_check \
    -CRLfile "$W/issuing.crl.pem" -CAfile "$ROOT" -untrusted "$ISS" "$W/seal.pem"

# --- POST needs Content-Type: application/ocsp-request (RFC 6960 A.1) ---------
# post_type TYPE... -> status, then the body's error code ("-" for none);
# no TYPE: no Content-Type header at all.
post_type() {
	local h=(-H 'Content-Type:')
	[ $# -gt 0 ] && h=(-H "Content-Type: $1")
	curl -s -o "$W/type.resp" -w '%{http_code}' -X POST "${h[@]}" \
	    --data-binary "@$W/req.der" "$U/ocsp"
	printf ' %s' "$(jq -r '.error.code // "-"' "$W/type.resp" 2>/dev/null || echo -)"
}
expect_eq "POST as application/json: 415 in the JSON error shape" \
    "$(post_type application/json)" "415 unsupported_media_type"
expect_eq "... the message names the type" "$(jq -r .error.message "$W/type.resp")" \
    "Content-Type must be application/ocsp-request"
expect_eq "POST as a form (curl's default): 415" \
    "$(post_type application/x-www-form-urlencoded)" "415 unsupported_media_type"
expect_eq "POST as application/ocsp-requests: 415" \
    "$(post_type application/ocsp-requests)" "415 unsupported_media_type"
expect_eq "POST without Content-Type: 415" "$(post_type)" "415 unsupported_media_type"
expect_eq "POST as application/ocsp-request: 200" "$(post_type application/ocsp-request)" "200 -"
expect_match "... an OCSP answer: good" \
    "$(openssl ocsp -respin "$W/type.resp" -issuer "$ISS" -cert "$W/seal.pem" -CAfile "$ROOT" 2>&1)" \
    "seal.pem: good"
expect_eq "POST as Application/OCSP-Request; x=y: 200 (case and parameters)" \
    "$(post_type 'Application/OCSP-Request; x=y')" "200 -"

# --- errors are OCSP responses ----------------------------------------------
head -c 200 /dev/urandom >"$W/junk"
hdrs=$(curl -s -D - -o "$W/junk.resp" -H 'Content-Type: application/ocsp-request' \
    --data-binary "@$W/junk" "$U/ocsp")
expect_match "garbage POST: 200" "$hdrs" "^HTTP/1.1 200"
expect_match "garbage POST: not cacheable" "$hdrs" "Cache-Control: no-store"
res=$(openssl ocsp -respin "$W/junk.resp" -resp_text -noverify 2>&1)
expect_match "garbage POST: malformedRequest" "$res" "malformedrequest"
res=$(curl -s "$U/ocsp/bm90IGFuIE9DU1AgcmVxdWVzdA%3D%3D" | openssl ocsp -respin /dev/stdin -resp_text -noverify 2>&1)
expect_match "garbage GET: malformedRequest" "$res" "malformedrequest"
# Two requests in one: RFC 5019 wants exactly one.
openssl ocsp -issuer "$ISS" -cert "$W/seal.pem" -cert "$W/seal.pem" -no_nonce -reqout "$W/two.der" >/dev/null 2>&1
res=$(curl -s --data-binary "@$W/two.der" -H 'Content-Type: application/ocsp-request' "$U/ocsp" |
    openssl ocsp -respin /dev/stdin -resp_text -noverify 2>&1)
expect_match "two requests in one: malformedRequest" "$res" "malformedrequest"
# A certificate of another CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/oca.key" \
    -out "$W/oca.pem" -subj "/CN=Other CA" -days 2 -addext basicConstraints=critical,CA:TRUE \
    >/dev/null 2>&1
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/o.key" \
    -subj "/CN=other" 2>/dev/null | openssl x509 -req -CA "$W/oca.pem" -CAkey "$W/oca.key" \
    -CAcreateserial -days 1 -out "$W/other.pem" >/dev/null 2>&1
res=$(ocsp "$W/other.pem" "$W/oca.pem")
expect_match "another CA's certificate: unauthorized" "$res" "unauthorized"
# An unknown serial under our issuing CA.
res=$(openssl ocsp -issuer "$ISS" -serial 0x1234567890 -url "$U/ocsp" -no_nonce -CAfile "$ROOT" 2>&1)
expect_match "an unknown serial of our CA: unauthorized" "$res" "unauthorized"

# --- revoke: OCSP and the CRL follow within seconds --------------------------
out=$("$ADMIN" seal revoke --data-dir "$D" --seal "$SEAL" --reason wrong 2>&1); rc=$?
expect_eq "seal revoke with an unknown reason: usage error (2)" "$rc" 2
out=$("$ADMIN" seal revoke --data-dir "$D" --seal "$SEAL" --reason keyCompromise \
    --comment "token stolen" --json 2>&1); rc=$?
expect_eq "seal revoke exits 0" "$rc" 0
expect_eq "seal revoke --json names the reason" "$(printf '%s' "$out" | jq -r .reason)" keyCompromise
res=
for i in $(seq 1 50); do
	res=$(ocsp "$W/seal.pem" "$ISS")
	printf '%s' "$res" | grep -q ': revoked' && break
	sleep 0.1
done
expect_match "openssl ocsp: revoked within 5 s" "$res" "seal.pem: revoked"
expect_match "openssl ocsp: reason keyCompromise" "$res" "Reason: keyCompromise"
expect_match "openssl ocsp: revoked response verifies" "$res" "Response verify OK"
res=$(ocsp "$W/seal.pem" "$ISS" -sha256)
expect_match "SHA-256 CertID: revoked too" "$res" "seal.pem: revoked"
res=$(ocsp "$ISS" "$ROOT")
expect_match "the issuing CA is still good" "$res" "issuing.pem: good"
curl -s -o "$W/issuing2.crl" "$U/crl/issuing.crl"
check "new issuing CRL verifies" openssl crl -inform DER -in "$W/issuing2.crl" -CAfile "$ISS" -noout
txt=$(openssl crl -inform DER -in "$W/issuing2.crl" -noout -text)
serial=$(openssl x509 -in "$W/seal.pem" -noout -serial | cut -d= -f2)
expect_match "the CRL lists the seal" "$txt" "Serial Number: $serial"
expect_match "the CRL entry has reasonCode keyCompromise" "$txt" "Key Compromise"
n2=$(printf '%s' "$txt" | grep -A1 "CRL Number" | tail -1 | tr -d ' ')
if [ -n "$n1" ] && [ -n "$n2" ] && [ "$n2" -gt "$n1" ]; then
	ok "cRLNumber increased ($n1 -> $n2)"
else
	fail "cRLNumber increased" "$n1 -> $n2"
fi
openssl crl -inform DER -in "$W/issuing2.crl" -out "$W/issuing.crl.pem"
res=$(openssl verify -crl_check -CRLfile "$W/issuing.crl.pem" -CAfile "$ROOT" -untrusted "$ISS" "$W/seal.pem" 2>&1); rc=$?
if [ "$rc" -ne 0 ]; then ok "openssl verify -crl_check fails after revocation"; else
	fail "openssl verify -crl_check fails after revocation" "$res"; fi
expect_match "... with 'certificate revoked'" "$res" "certificate revoked"
out=$("$ADMIN" seal revoke --data-dir "$D" --seal "$SEAL" --reason superseded 2>&1); rc=$?
expect_eq "revoking twice: conflict (4)" "$rc" 4

stop_daemon; rc=$?
expect_eq "certsvcd stops cleanly" "$rc" 0
e2e_summary
