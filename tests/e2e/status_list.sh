#!/usr/bin/env bash
# Licence status lists end to end (issue #5, docs/status-list.md): issue a
# licence, read its slot from the sealed document, fetch the list without
# a token, check the Status List Token with independent tools (jq, base64,
# openssl verify and openssl dgst on the JWS signing input, gzip for the
# DEFLATE data), read the entry, then follow it through suspend,
# reinstate and revoke.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
out=$("$ADMIN" init --demo --data-dir "$D" 2>&1); rc=$?
expect_eq "init --demo exits 0" "$rc" 0
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/    # /' | head -20
T=$D/demo-tokens.json
ISSUER=$(jq -r .issuer "$T")
jq -c .sample_licence_request "$T" >"$E2E_TMP/req.json"
LOG=$E2E_TMP/certsvcd.log
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT

# b64url FILE-OR-STRING: base64url (no padding) on stdin -> bytes on stdout
b64url_d() {
	local s
	s=$(tr -- '-_' '+/')
	while [ $(( ${#s} % 4 )) -ne 0 ]; do s="$s="; done
	printf '%s' "$s" | base64 -d
}
# zlib_d: a ZLIB stream (RFC 1950) on stdin -> the inflated bytes.  gzip
# reads the same DEFLATE data behind a gzip header; it then misses the
# gzip trailer (the ZLIB one is an Adler-32) and says so on stderr.
zlib_d() {
	{ printf '\037\213\010\000\000\000\000\000\000\377'; tail -c +3; } |
	    gzip -dc 2>/dev/null
	return 0
}
# entry IDX: the 2-bit value of entry IDX of the list fetched last
entry() {
	local byte=$(( $1 / 4 )) shift=$(( ($1 % 4) * 2 )) v
	v=$(od -An -tu1 -j "$byte" -N1 "$E2E_TMP/list.bin" | tr -d ' ')
	echo $(( (v >> shift) & 3 ))
}
# fetch: GET the list into $E2E_TMP/list.jwt (headers in list.hdr) and
# decode it into list.hdr.json, list.pl.json and list.bin; returns the
# HTTP status.
fetch() {
	local code
	code=$(curl -s -D "$E2E_TMP/list.hdr" -o "$E2E_TMP/list.jwt" -w '%{http_code}' "$LIST_URL")
	if [ "$code" = 200 ]; then
		cut -d. -f1 "$E2E_TMP/list.jwt" | b64url_d >"$E2E_TMP/list.hdr.json"
		cut -d. -f2 "$E2E_TMP/list.jwt" | b64url_d >"$E2E_TMP/list.pl.json"
		jq -r .status_list.lst "$E2E_TMP/list.pl.json" | b64url_d | zlib_d >"$E2E_TMP/list.bin"
	fi
	echo "$code"
}
# wait_entry IDX WANT: poll (up to 20 s) until entry IDX is WANT
wait_entry() {
	local got=
	for _ in $(seq 1 40); do
		if [ "$(fetch)" = 200 ]; then
			got=$(entry "$1")
			[ "$got" = "$2" ] && { echo "$got"; return 0; }
		fi
		sleep 0.5
	done
	echo "${got:-none}"
}

# --- licences and their slots -----------------------------------------------
# Three licences: the one followed below is the last, so that its entry is
# (most likely) not the lowest bits of its byte.
slots=
for k in 1 2 3; do
	res=$(curl -s -w '\n%{http_code}' -X POST "$U/v1/licences" -H "Authorization: Bearer $ISSUER" \
	    -H "Idempotency-Key: sl-$k" -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/req.json")
	expect_eq "POST /v1/licences ($k): 201" "$(printf '%s' "$res" | tail -1)" 201
	body=$(printf '%s' "$res" | sed '$d')
	printf '%s' "$body" | jq -r .envelope.document | base64 -d >"$E2E_TMP/document.json"
	slots="$slots$(jq -r '.status.status_list | "\(.uri) \(.idx)"' "$E2E_TMP/document.json")
"
done
expect_eq "each licence has its own slot" "$(printf '%s' "$slots" | sort -u | wc -l)" 3
ID=$(printf '%s' "$body" | jq -r .id)
expect_eq "document format certsvc-licence/2" "$(jq -r .format "$E2E_TMP/document.json")" certsvc-licence/2
IDX=$(jq -r .status.status_list.idx "$E2E_TMP/document.json")
URI=$(jq -r .status.status_list.uri "$E2E_TMP/document.json")
expect_match "document carries status.status_list.idx" "$IDX" '^[0-9]+$'
expect_match "document carries status.status_list.uri" "$URI" '^https?://[^/]+/v1/status-lists/(0|[1-9][0-9]*)$'
# The document names the public URL; reach it at this daemon instead.
LIST_URL="$U/${URI#*://*/}"
N=${URI##*/}
echo "# following list $N, index $IDX"

# --- the list ----------------------------------------------------------------
# The refresher signs the list within a second or two of its first slot.
for _ in $(seq 1 40); do [ "$(fetch)" = 200 ] && break; sleep 0.5; done
expect_eq "GET the list (no token): 200" "$(fetch)" 200
hdr=$(cat "$E2E_TMP/list.hdr")
expect_match "Content-Type application/statuslist+jwt" "$hdr" '[Cc]ontent-[Tt]ype: application/statuslist\+jwt'
expect_match "Cache-Control max-age" "$hdr" '[Cc]ache-[Cc]ontrol: public, max-age=[1-9][0-9]*'
expect_match "CORS for browser verifiers" "$hdr" '[Aa]ccess-[Cc]ontrol-[Aa]llow-[Oo]rigin: \*'
expect_match "compact JWS: three base64url parts" "$(cat "$E2E_TMP/list.jwt")" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
expect_eq "header typ statuslist+jwt" "$(jq -r .typ "$E2E_TMP/list.hdr.json")" statuslist+jwt
expect_eq "header alg ES256" "$(jq -r .alg "$E2E_TMP/list.hdr.json")" ES256
expect_eq "header x5c: report certificate and issuing CA" "$(jq -r '.x5c | length' "$E2E_TMP/list.hdr.json")" 2
expect_eq "sub is the document's uri" "$(jq -r .sub "$E2E_TMP/list.pl.json")" "$URI"
expect_eq "bits 2" "$(jq -r .status_list.bits "$E2E_TMP/list.pl.json")" 2
expect_eq "ttl 300" "$(jq -r .ttl "$E2E_TMP/list.pl.json")" 300
now=$(date +%s)
check "iat <= now < exp" jq -e --argjson now "$now" '.iat <= $now + 5 and .exp > $now and .exp - .iat <= 86400' "$E2E_TMP/list.pl.json"
expect_eq "the list has all 131072 entries (32768 bytes)" "$(stat -c %s "$E2E_TMP/list.bin")" 32768

# x5c chains to the certsvc root
jq -r '.x5c[0]' "$E2E_TMP/list.hdr.json" | base64 -d | openssl x509 -inform DER -out "$E2E_TMP/signer.pem"
jq -r '.x5c[1]' "$E2E_TMP/list.hdr.json" | base64 -d | openssl x509 -inform DER -out "$E2E_TMP/x5c-issuing.pem"
check "x5c[0] verifies to root.pem through x5c[1] (openssl verify)" \
    openssl verify -CAfile "$D/ca/root.pem" -untrusted "$E2E_TMP/x5c-issuing.pem" "$E2E_TMP/signer.pem"
expect_eq "x5c[1] is the issuing CA" \
    "$(openssl x509 -in "$E2E_TMP/x5c-issuing.pem" -noout -fingerprint -sha256)" \
    "$(openssl x509 -in "$D/ca/issuing.pem" -noout -fingerprint -sha256)"

# The JWS signature: raw r||s (RFC 7518 3.4) -> DER for openssl dgst.
openssl x509 -in "$E2E_TMP/signer.pem" -noout -pubkey >"$E2E_TMP/signer.pub"
cut -d. -f1,2 "$E2E_TMP/list.jwt" | tr -d '\n' >"$E2E_TMP/signing-input"
cut -d. -f3 "$E2E_TMP/list.jwt" | tr -d '\n' | b64url_d >"$E2E_TMP/sig.raw"
expect_eq "signature is 64 bytes (r||s)" "$(stat -c %s "$E2E_TMP/sig.raw")" 64
sighex=$(od -An -tx1 -v "$E2E_TMP/sig.raw" | tr -d ' \n')
printf 'asn1=SEQUENCE:sig\n[sig]\nr=INTEGER:0x%s\ns=INTEGER:0x%s\n' \
    "${sighex:0:64}" "${sighex:64:64}" >"$E2E_TMP/sig.cnf"
openssl asn1parse -genconf "$E2E_TMP/sig.cnf" -out "$E2E_TMP/sig.der" >/dev/null
check "ES256 signature verifies (openssl dgst -verify)" \
    openssl dgst -sha256 -verify "$E2E_TMP/signer.pub" -signature "$E2E_TMP/sig.der" "$E2E_TMP/signing-input"
cp "$E2E_TMP/signing-input" "$E2E_TMP/tampered-input"
printf 'x' | dd of="$E2E_TMP/tampered-input" bs=1 seek=40 conv=notrunc 2>/dev/null
check_fails "tampered signing input: openssl dgst -verify fails" \
    openssl dgst -sha256 -verify "$E2E_TMP/signer.pub" -signature "$E2E_TMP/sig.der" "$E2E_TMP/tampered-input"

expect_eq "entry idx is 0 (VALID)" "$(entry "$IDX")" 0

# --- status changes show in the list ---------------------------------------
act() { # act ACTION BODY -> HTTP status
	curl -s -o "$E2E_TMP/act.out" -w '%{http_code}' -X POST "$U/v1/licences/$ID/$1" \
	    -H "Authorization: Bearer $ISSUER" -H 'Content-Type: application/json' --data-binary "$2"
}
code=$(act suspend '{"reason":"e2e status list"}')
if [ "$code" = 404 ] || [ "$code" = 501 ]; then
	echo "skip - POST /v1/licences/{id}/suspend not available yet ($code): status changes not checked"
else
	expect_eq "suspend: 200" "$code" 200
	expect_eq "entry becomes 2 (SUSPENDED)" "$(wait_entry "$IDX" 2)" 2
	expect_eq "reinstate: 200" "$(act reinstate '{"reason":"e2e"}')" 200
	expect_eq "entry back to 0 (VALID)" "$(wait_entry "$IDX" 0)" 0
	expect_eq "revoke: 200" "$(act revoke '{"reason":"e2e"}')" 200
	expect_eq "entry becomes 1 (INVALID)" "$(wait_entry "$IDX" 1)" 1
	expect_eq "the other entries stay 0" "$(od -An -tu1 -v "$E2E_TMP/list.bin" | tr -s " " "\n" | grep -cv "^0*$")" 1
fi

# --- errors ---------------------------------------------------------------
st() { curl -s -o /dev/null -w '%{http_code}' "$U$1"; }
expect_eq "unknown list: 404" "$(st /v1/status-lists/$((N + 1000)))" 404
expect_eq "leading zero: 404" "$(st "/v1/status-lists/0$N")" 404
expect_eq "not a number: 404" "$(st /v1/status-lists/abc)" 404
expect_eq "negative: 404" "$(st /v1/status-lists/-1)" 404
expect_eq "overflow: 404" "$(st /v1/status-lists/99999999999999999999)" 404
expect_eq "empty: 404" "$(st /v1/status-lists/)" 404
expect_match "404 is a JSON error" "$(curl -s "$U/v1/status-lists/abc")" '"error":\{"code":"not_found"'
expect_eq "historical ?time=: 501" "$(st "/v1/status-lists/$N?time=1700000000")" 501

stop_daemon
e2e_summary
