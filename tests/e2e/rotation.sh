#!/usr/bin/env bash
# Seal key rotation and issuing-CA rollover end to end (issue #9), certsvcd
# running throughout the seal part:
# issue E1, 'seal rotate', issue E2 (another seal certificate, same seal);
# both verify through POST /v1/verify and openssl cms -verify, openssl ocsp
# says good for both certificates and openssl verify -crl_check passes;
# 'key destroy' refuses the active key, asks for confirmation, destroys the
# retired one (pkcs11-tool no longer lists it) and E1 still verifies;
# 'licence reseal' makes version 2 of E1's licence sealed with the new key,
# and running it again changes nothing; 'seal revoke-key' revokes the
# retired certificate alone.  Then 'ca rollover' and a restart: a new seal
# chains via issuing-2, openssl verify -crl_check passes with both CRLs,
# OCSP answers for the certificates of both CAs, the old seal keeps
# sealing until 'seal rotate' moves it to the new CA.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
W=$E2E_TMP/w
mkdir -p "$W"
out=$("$ADMIN" init --demo --data-dir "$D" 2>&1); rc=$?
expect_eq "init --demo exits 0" "$rc" 0
T=$D/demo-tokens.json
ISSUER=$(jq -r .issuer "$T"); VERIFIER=$(jq -r .verifier "$T"); SEAL=$(jq -r .seal "$T")
jq -c '.sample_licence_request | del(.seal)' "$T" >"$W/req.json"
ROOT=$D/ca/root.pem ISS=$D/ca/issuing.pem
export SOFTHSM2_CONF=$D/softhsm2.conf

LOG=$E2E_TMP/certsvcd.log
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT

issue() { # issue KEY OUTPREFIX -> licence id; envelope parts in OUTPREFIX.*
	local body
	body=$(curl -s -X POST "$U/v1/licences" -H "Authorization: Bearer $ISSUER" \
	    -H "Idempotency-Key: $1" -H 'Content-Type: application/json' --data-binary "@$W/req.json")
	printf '%s' "$body" | jq -c .envelope >"$2.env"
	printf '%s' "$body" | jq -r .envelope.document | base64 -d >"$2.doc"
	printf '%s' "$body" | jq -r .envelope.seal | base64 -d >"$2.p7s"
	printf '%s' "$body" | jq -r .id
}
cms_verify() { # cms_verify PREFIX: openssl cms -verify, signer into PREFIX.signer
	openssl cms -verify -binary -inform DER -in "$1.p7s" -content "$1.doc" \
	    -CAfile "$ROOT" -purpose any -out /dev/null -signer "$1.signer"
}
api_verify() { # api_verify PREFIX -> result of POST /v1/verify {"envelope"}
	jq -c '{envelope: .}' "$1.env" | curl -s -X POST "$U/v1/verify" \
	    -H "Authorization: Bearer $VERIFIER" -H 'Content-Type: application/json' \
	    --data-binary @- | jq -r '.result + " " + ([.checks[] | select(.result != "pass" and .result != "not_applicable") | .name + ":" + .reason] | join("; "))'
}
cert_status() { # cert_status PREFIX -> "result reason" of the certificate_status check
	jq -c '{envelope: .}' "$1.env" | curl -s -X POST "$U/v1/verify" \
	    -H "Authorization: Bearer $VERIFIER" -H 'Content-Type: application/json' \
	    --data-binary @- | jq -r '.checks[] | select(.name == "certificate_status") | .result + " " + .reason'
}
ocsp() { # ocsp CERT
	openssl ocsp -issuer "$ISS" -cert "$1" -url "$U/ocsp" -CAfile "$ROOT" -no_nonce 2>&1
}
ocsp_until() { # ocsp_until CERT WORD: retry up to 5 s for WORD (good/revoked)
	local i res
	for i in $(seq 1 50); do
		res=$(ocsp "$1")
		printf '%s' "$res" | grep -q ": $2" && break
		sleep 0.1
	done
	printf '%s' "$res"
}
keycount() { # the token's private keys whose label is $1
	pkcs11-tool --module "$MODULE" --token-label "$(sed -n 's/^token_label *= *//p' "$D/certsvc.conf" | tr -d '"')" \
	    --login --pin "$(cat "$D/pin")" --list-objects --type privkey 2>/dev/null |
	    grep -c "label: *$1\$"
}

# --- E1 with the first key, then rotate ---------------------------------------
ID1=$(issue e1 "$W/e1")
check "E1: openssl cms -verify" cms_verify "$W/e1"
expect_match "E1: POST /v1/verify valid" "$(api_verify "$W/e1")" "^valid"
out=$("$ADMIN" seal rotate --data-dir "$D" --seal "$SEAL" --json 2>&1); rc=$?
expect_eq "seal rotate exits 0" "$rc" 0
OLDURI=$(printf '%s' "$out" | jq -r .retired_key_uri)
NEWURI=$(printf '%s' "$out" | jq -r .key_uri)
OLDSHA=$(printf '%s' "$out" | jq -r .retired_certificate_sha256)
NEWSHA=$(printf '%s' "$out" | jq -r .certificate_sha256)
expect_match "seal rotate names a new key" "$NEWURI" "^pkcs11:"
if [ "$OLDURI" != "$NEWURI" ] && [ "$OLDSHA" != "$NEWSHA" ]; then ok "new key and certificate differ from the old"
else fail "new key and certificate differ from the old" "$out"; fi
sha_of() { openssl x509 -in "$1" -outform DER | sha256sum | cut -d' ' -f1; }
expect_eq "E1 was sealed by the retired certificate" "$(sha_of "$W/e1.signer")" "$OLDSHA"

# certsvcd was not restarted: the next licence uses the new key at once.
ID2=$(issue e2 "$W/e2")
check "E2: openssl cms -verify" cms_verify "$W/e2"
expect_eq "E2 was sealed by the new certificate" "$(sha_of "$W/e2.signer")" "$NEWSHA"
expect_eq "E2 names the same seal" "$(jq -r .seal.id "$W/e2.doc")" "$SEAL"
expect_match "E2: POST /v1/verify valid" "$(api_verify "$W/e2")" "^valid"
expect_match "E1 after the rotation: POST /v1/verify valid" "$(api_verify "$W/e1")" "^valid"
check "E1 after the rotation: openssl cms -verify" cms_verify "$W/e1"
expect_match "openssl ocsp: the retired seal certificate is good" "$(ocsp_until "$W/e1.signer" good)" "e1.signer: good"
expect_match "openssl ocsp: the new seal certificate is good" "$(ocsp_until "$W/e2.signer" good)" "e2.signer: good"
expect_match "openssl ocsp: responses verify" "$(ocsp "$W/e2.signer")" "Response verify OK"
curl -s "$U/crl/issuing.crl" | openssl crl -inform DER -out "$W/issuing.crl.pem"
for c in e1 e2; do
	check "openssl verify -crl_check: $c's certificate" openssl verify -crl_check \
	    -CRLfile "$W/issuing.crl.pem" -CAfile "$ROOT" -untrusted "$ISS" "$W/$c.signer"
done

# --- key destroy ----------------------------------------------------------------
out=$("$ADMIN" key destroy --data-dir "$D" --uri "$NEWURI" --yes 2>&1); rc=$?
expect_eq "key destroy of the seal's active key: conflict (4)" "$rc" 4
expect_match "... naming the seal" "$out" "in use by seal $SEAL"
OLDLABEL=$(printf '%s' "$OLDURI" | sed -nE 's/.*object=([^;]*).*/\1/p')
expect_eq "the retired key is still in the token" "$(keycount "$OLDLABEL")" 1
out=$(echo wrong-label | "$ADMIN" key destroy --data-dir "$D" --uri "$OLDURI" 2>&1); rc=$?
expect_eq "key destroy without the label typed: usage error (2)" "$rc" 2
expect_eq "... and the key is still there" "$(keycount "$OLDLABEL")" 1
out=$(echo "$OLDLABEL" | "$ADMIN" key destroy --data-dir "$D" --uri "$OLDURI" --json 2>&1); rc=$?
expect_eq "key destroy with the label typed: exits 0" "$rc" 0
expect_eq "pkcs11-tool --list-objects no longer shows the retired key" "$(keycount "$OLDLABEL")" 0
out=$("$ADMIN" key destroy --data-dir "$D" --uri "$OLDURI" --yes 2>&1); rc=$?
expect_eq "destroying it again: conflict (4)" "$rc" 4
expect_match "audit trail records key.destroy" \
    "$("$ADMIN" audit export --data-dir "$D" --object key: 2>&1)" '"action":"key.destroy"'
expect_match "E1 after the key is gone: POST /v1/verify valid" "$(api_verify "$W/e1")" "^valid"
check "E1 after the key is gone: openssl cms -verify" cms_verify "$W/e1"
expect_match "openssl ocsp: the retired certificate is still good" "$(ocsp "$W/e1.signer")" "e1.signer: good"
check "audit verify passes" "$ADMIN" audit verify --data-dir "$D"

# --- licence reseal ------------------------------------------------------------
out=$("$ADMIN" licence reseal --data-dir "$D" --seal "$SEAL" --json 2>&1); rc=$?
expect_eq "licence reseal exits 0" "$rc" 0
expect_eq "licence reseal: one resealed (E1)" "$(printf '%s' "$out" | jq -r .resealed)" 1
expect_eq "licence reseal: one already current (E2)" "$(printf '%s' "$out" | jq -r .current)" 1
lic=$(curl -s -H "Authorization: Bearer $ISSUER" "$U/v1/licences/$ID1")
expect_eq "E1's licence is at version 2" "$(printf '%s' "$lic" | jq -r .version)" 2
curl -s -H "Authorization: Bearer $ISSUER" "$U/v1/licences/$ID1/envelope" >"$W/e3.env"
jq -r .document "$W/e3.env" | base64 -d >"$W/e3.doc"
jq -r .seal "$W/e3.env" | base64 -d >"$W/e3.p7s"
check "version 2: openssl cms -verify" cms_verify "$W/e3"
expect_eq "version 2 is sealed by the new certificate" "$(sha_of "$W/e3.signer")" "$NEWSHA"
expect_eq "version 2 supersedes version 1" "$(jq -r .supersedes "$W/e3.doc")" 1
expect_match "version 2: POST /v1/verify valid" "$(api_verify "$W/e3")" "^valid"
expect_match "version 1 now: superseded, its seal still good" "$(api_verify "$W/e1")" "licence_status"
out=$("$ADMIN" licence reseal --data-dir "$D" --seal "$SEAL" --json 2>&1); rc=$?
expect_eq "licence reseal again: exits 0" "$rc" 0
expect_eq "licence reseal again: nothing resealed" "$(printf '%s' "$out" | jq -r .resealed)" 0
expect_eq "... E1's licence stays at version 2" \
    "$(curl -s -H "Authorization: Bearer $ISSUER" "$U/v1/licences/$ID1" | jq -r .version)" 2
expect_eq "E2's licence stays at version 1" \
    "$(curl -s -H "Authorization: Bearer $ISSUER" "$U/v1/licences/$ID2" | jq -r .version)" 1
expect_match "audit trail records licence.reseal" \
    "$("$ADMIN" audit export --data-dir "$D" --object licence: 2>&1)" '"action":"licence.reseal"'

# --- revoking the retired certificate alone (its key was compromised) -------------
out=$("$ADMIN" seal revoke-key --data-dir "$D" --seal "$SEAL" --certificate "$NEWSHA" \
    --reason keyCompromise 2>&1); rc=$?
expect_eq "seal revoke-key of the current certificate: not found (3)" "$rc" 3
out=$("$ADMIN" seal revoke-key --data-dir "$D" --seal "$SEAL" --certificate "$OLDSHA" \
    --reason keyCompromise --comment "old key exposed" --json 2>&1); rc=$?
expect_eq "seal revoke-key of the retired certificate: exits 0" "$rc" 0
res=$(ocsp_until "$W/e1.signer" revoked)
expect_match "openssl ocsp: the retired certificate is revoked" "$res" "e1.signer: revoked"
expect_match "... reason keyCompromise" "$res" "Reason: keyCompromise"
expect_match "openssl ocsp: the current certificate stays good" "$(ocsp "$W/e2.signer")" "e2.signer: good"
curl -s "$U/crl/issuing.crl" | openssl crl -inform DER -out "$W/issuing.crl.pem"
check_fails "openssl verify -crl_check: the retired certificate fails" openssl verify -crl_check \
    -CRLfile "$W/issuing.crl.pem" -CAfile "$ROOT" -untrusted "$ISS" "$W/e1.signer"
check "openssl verify -crl_check: the current one passes" openssl verify -crl_check \
    -CRLfile "$W/issuing.crl.pem" -CAfile "$ROOT" -untrusted "$ISS" "$W/e2.signer"
# E1 carries an RFC 3161 timestamp (the demo seals CAdES-T) from before the
# revocation: that proves it was sealed while the key was good.
expect_match "E1: certificate_status says revoked, the timestamp proves it was before" \
    "$(cert_status "$W/e1")" "^pass .*was revoked at .*timestamp proves"
expect_match "E2: POST /v1/verify still valid" "$(api_verify "$W/e2")" "^valid"
expect_match "E1's re-sealed version 2: still valid" "$(api_verify "$W/e3")" "^valid"

if kill -0 "$PID" 2>/dev/null; then ok "certsvcd kept running throughout"; else fail "certsvcd kept running throughout"; fi

# --- issuing-CA rollover ----------------------------------------------------------
out=$("$ADMIN" ca rollover --data-dir "$D" --json 2>&1); rc=$?
expect_eq "ca rollover exits 0" "$rc" 0
expect_eq "ca rollover names issuing-2" "$(printf '%s' "$out" | jq -r .name)" issuing-2
ISS2=$D/ca/issuing-2.pem
check "DATA/ca/issuing-2.pem is written" openssl x509 -in "$ISS2" -noout
check "issuing-2 chains to the same root" openssl verify -CAfile "$ROOT" "$ISS2"
expect_eq "ca show lists root, issuing and issuing-2" \
    "$("$ADMIN" ca show --data-dir "$D" --json | jq -r '[.[].name] | join(",")')" "root,issuing,issuing-2"
expect_match "audit trail records ca.rollover" \
    "$("$ADMIN" audit export --data-dir "$D" --object ca: 2>&1)" '"action":"ca.rollover"'
# certsvcd loads its CAs at start (docs/operations.md): restart it.
stop_daemon; rc=$?
expect_eq "certsvcd stops cleanly for the restart" "$rc" 0
if ! start_daemon "$D" "$LOG"; then fail "certsvcd restarts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT
DEPT=$(jq -r .department "$T")
S2=$("$ADMIN" seal create --data-dir "$D" --dept "$DEPT" --name "Seal after rollover" --json | jq -r .id)
expect_match "a new seal after the rollover" "$S2" "^S-"
"$ADMIN" seal show --data-dir "$D" --seal "$S2" --pem | sed -n '/BEGIN CERT/,/END CERT/p' >"$W/s2.pem"
check "the new seal's certificate chains via issuing-2" \
    openssl verify -CAfile "$ROOT" -untrusted "$ISS2" "$W/s2.pem"
check_fails "... and not via the old issuing CA" \
    openssl verify -CAfile "$ROOT" -untrusted "$ISS" "$W/s2.pem"
expect_match "its CRL distribution point is /crl/issuing-2.crl" \
    "$(openssl x509 -in "$W/s2.pem" -noout -ext crlDistributionPoints)" "/crl/issuing-2.crl"
jq -c --arg s "$S2" '.sample_licence_request | .seal = $s' "$T" >"$W/req.json"
ID4=$(issue e4 "$W/e4")
check "E4 (new seal, new CA): openssl cms -verify" cms_verify "$W/e4"
expect_match "E4: POST /v1/verify valid" "$(api_verify "$W/e4")" "^valid"
jq -c --arg s "$SEAL" '.sample_licence_request | .seal = $s' "$T" >"$W/req.json"
ID5=$(issue e5 "$W/e5")
check "E5: openssl cms -verify (chained via the old issuing CA)" cms_verify "$W/e5"
expect_eq "the old seal still seals, with its old-CA certificate" "$(sha_of "$W/e5.signer")" "$NEWSHA"
expect_match "E2 (before the rollover): POST /v1/verify valid" "$(api_verify "$W/e2")" "^valid"
# certsvcd sees the seal that certsvc-admin made at its next refresh.
for i in $(seq 1 50); do
	res=$(openssl ocsp -issuer "$ISS2" -cert "$W/s2.pem" -url "$U/ocsp" -CAfile "$ROOT" -no_nonce -resp_text 2>&1)
	printf '%s' "$res" | grep -q "s2.pem: good" && break
	sleep 0.1
done
expect_match "openssl ocsp: the new CA's seal certificate is good" "$res" "s2.pem: good"
expect_match "... and the response verifies" "$res" "Response verify OK"
expect_match "... signed by a responder the new CA issued" "$res" "Issuer: .*Issuing CA 2"
expect_match "openssl ocsp: the old CA's seal certificate is good" "$(ocsp "$W/e2.signer")" "e2.signer: good"
expect_match "... and the response verifies" "$(ocsp "$W/e2.signer")" "Response verify OK"
expect_match "openssl ocsp: the revoked retired certificate stays revoked" "$(ocsp "$W/e1.signer")" "e1.signer: revoked"
expect_match "openssl ocsp: issuing-2 itself is good (root-signed)" \
    "$(openssl ocsp -issuer "$ROOT" -cert "$ISS2" -url "$U/ocsp" -CAfile "$ROOT" -no_nonce 2>&1)" "issuing-2.pem: good"
curl -s "$U/crl/issuing.crl" | openssl crl -inform DER -out "$W/c1.pem"
curl -s "$U/crl/issuing-2.crl" | openssl crl -inform DER -out "$W/c2.pem"
check "GET /crl/issuing.crl verifies with the old CA" openssl crl -in "$W/c1.pem" -CAfile "$ISS" -noout
check "GET /crl/issuing-2.crl verifies with the new CA" openssl crl -in "$W/c2.pem" -CAfile "$ISS2" -noout
cat "$W/c1.pem" "$W/c2.pem" >"$W/crls.pem"
cat "$ISS" "$ISS2" >"$W/issuers.pem"
check "openssl verify -crl_check, both CRLs: the new seal" openssl verify -crl_check \
    -CRLfile "$W/crls.pem" -CAfile "$ROOT" -untrusted "$W/issuers.pem" "$W/s2.pem"
check "openssl verify -crl_check, both CRLs: the old CA's seal" openssl verify -crl_check \
    -CRLfile "$W/crls.pem" -CAfile "$ROOT" -untrusted "$W/issuers.pem" "$W/e2.signer"
check_fails "openssl verify -crl_check, both CRLs: the revoked one fails" openssl verify -crl_check \
    -CRLfile "$W/crls.pem" -CAfile "$ROOT" -untrusted "$W/issuers.pem" "$W/e1.signer"
expect_eq "GET /ca/issuing-2.pem is the new CA" "$(curl -s "$U/ca/issuing-2.pem" | openssl x509 -noout -fingerprint -sha256)" \
    "$(openssl x509 -in "$ISS2" -noout -fingerprint -sha256)"
expect_eq "GET /ca/issuing.pem is still the old one" "$(curl -s "$U/ca/issuing.pem" | openssl x509 -noout -fingerprint -sha256)" \
    "$(openssl x509 -in "$ISS" -noout -fingerprint -sha256)"
# Moving the old seal to the new CA: rotate it.
out=$("$ADMIN" seal rotate --data-dir "$D" --seal "$SEAL" --json 2>&1); rc=$?
expect_eq "seal rotate after the rollover exits 0" "$rc" 0
ID6=$(issue e6 "$W/e6")
check "E6: openssl cms -verify" cms_verify "$W/e6"
check "E6: the rotated seal's certificate chains via issuing-2" \
    openssl verify -CAfile "$ROOT" -untrusted "$ISS2" "$W/e6.signer"
expect_match "E6: POST /v1/verify valid" "$(api_verify "$W/e6")" "^valid"
expect_match "E5 (old CA, retired key now): still valid" "$(api_verify "$W/e5")" "^valid"
check "audit verify passes at the end" "$ADMIN" audit verify --data-dir "$D"

stop_daemon; rc=$?
expect_eq "certsvcd stops cleanly" "$rc" 0
e2e_summary
