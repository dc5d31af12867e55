#!/usr/bin/env bash
# Issuance end to end (issue #4): init --demo, issue over HTTP, verify the
# seal with openssl cms, tamper, idempotent retries (also concurrent),
# entitlement between departments, readers' scopes and the 4xx answers.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
out=$("$ADMIN" init --demo --data-dir "$D" 2>&1); rc=$?
expect_eq "init --demo exits 0" "$rc" 0
T=$D/demo-tokens.json
check "demo-tokens.json written" test -s "$T"
expect_eq "demo-tokens.json is mode 600" "$(stat -c %a "$T")" 600
for k in issuer verifier holder department seal licence_type sample_licence_request; do
	check "demo-tokens.json has $k" jq -e ".$k" "$T"
done
out=$("$ADMIN" init --demo --data-dir "$D" 2>&1)
expect_match "second init --demo changes nothing" "$out" "nothing to do"
ISSUER=$(jq -r .issuer "$T"); VERIFIER=$(jq -r .verifier "$T")
HOLDER=$(jq -r .holder "$T"); DEPT=$(jq -r .department "$T"); SEAL=$(jq -r .seal "$T")
jq -c .sample_licence_request "$T" >"$E2E_TMP/req.json"

LOG=$E2E_TMP/certsvcd.log
export CERTSVC_MAX_BODY=65536
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT
post() { # post TOKEN KEY FILE -> body + status line
	curl -s -w '\n%{http_code}' -X POST "$U/v1/licences" -H "Authorization: Bearer $1" \
	    -H "Idempotency-Key: $2" -H 'Content-Type: application/json' --data-binary "@$3"
}

# --- issue and verify with openssl -----------------------------------------
res=$(post "$ISSUER" key-1 "$E2E_TMP/req.json")
code=$(printf '%s' "$res" | tail -1); body=$(printf '%s' "$res" | sed '$d')
expect_eq "POST /v1/licences: 201" "$code" 201
ID=$(printf '%s' "$body" | jq -r .id)
expect_match "licence id has the documented form" "$ID" "^DEMO01-$DEPT-[0-9]{4}-[0-9]{8,}-[0-9A-Z]$"
expect_eq "version 1" "$(printf '%s' "$body" | jq -r .version)" 1
expect_eq "status valid" "$(printf '%s' "$body" | jq -r .status)" valid
HTOKEN=$(printf '%s' "$body" | jq -r .holder_token)
expect_match "a holder token is handed out" "$HTOKEN" '^cs_'
expect_match "metrics: the issuance went through a group commit" \
    "$(curl -s "$U/metrics")" '^certsvc_store_batch_jobs_total [1-9]'
printf '%s' "$body" | jq -r .envelope.document | base64 -d >"$E2E_TMP/document.json"
printf '%s' "$body" | jq -r .envelope.seal | base64 -d >"$E2E_TMP/seal.p7s"
check "openssl cms -verify accepts the seal" openssl cms -verify -binary -inform DER \
    -in "$E2E_TMP/seal.p7s" -content "$E2E_TMP/document.json" -CAfile "$D/ca/root.pem" \
    -purpose any -out /dev/null -signer "$E2E_TMP/signer.pem"
"$ADMIN" seal show --data-dir "$D" --seal "$SEAL" --json | jq -r .certificate >"$E2E_TMP/sealcert.pem"
expect_eq "the signer is the department's seal certificate" \
    "$(openssl x509 -in "$E2E_TMP/signer.pem" -noout -fingerprint -sha256)" \
    "$(openssl x509 -in "$E2E_TMP/sealcert.pem" -noout -fingerprint -sha256)"
expect_match "seal certificate carries the credit code" \
    "$(openssl x509 -in "$E2E_TMP/sealcert.pem" -noout -subject -nameopt RFC2253)" "$DEPT"
cp "$E2E_TMP/document.json" "$E2E_TMP/tampered.json"
printf 'X' | dd of="$E2E_TMP/tampered.json" bs=1 seek=20 conv=notrunc 2>/dev/null
check_fails "one byte changed: openssl cms -verify fails" openssl cms -verify -binary -inform DER \
    -in "$E2E_TMP/seal.p7s" -content "$E2E_TMP/tampered.json" -CAfile "$D/ca/root.pem" \
    -purpose any -out /dev/null
attrs=$(openssl cms -cmsout -print -inform DER -in "$E2E_TMP/seal.p7s")
for a in contentType messageDigest signingTime id-smime-aa-signingCertificateV2; do
	expect_match "signed attribute $a present" "$attrs" "$a"
done
doc=$(cat "$E2E_TMP/document.json")
expect_eq "document is canonical JSON (jq -S -c reproduces it)" "$(jq -S -c . "$E2E_TMP/document.json")" "$doc"
expect_eq "document names the licence" "$(jq -r .id "$E2E_TMP/document.json")" "$ID"

# --- reads -----------------------------------------------------------------
curl -s -o "$E2E_TMP/doc2" -H "Authorization: Bearer $ISSUER" "$U/v1/licences/$ID/document"
check "GET .../document returns the exact sealed bytes" cmp "$E2E_TMP/doc2" "$E2E_TMP/document.json"
curl -s -o "$E2E_TMP/seal2" -H "Authorization: Bearer $ISSUER" "$U/v1/licences/$ID/seal"
check "GET .../seal returns the DER CMS" cmp "$E2E_TMP/seal2" "$E2E_TMP/seal.p7s"
expect_match "GET .../seal content type" \
    "$(curl -s -D - -o /dev/null -H "Authorization: Bearer $ISSUER" "$U/v1/licences/$ID/seal")" \
    'application/pkcs7-signature'
env=$(curl -s -H "Authorization: Bearer $ISSUER" "$U/v1/licences/$ID/envelope")
expect_eq "GET .../envelope carries the same seal" "$(printf '%s' "$env" | jq -r .seal)" \
    "$(base64 -w0 "$E2E_TMP/seal.p7s")"
expect_eq "GET /v1/licences/{id}: 200" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ISSUER" "$U/v1/licences/$ID")" 200
expect_eq "verifier cannot read it (404)" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $VERIFIER" "$U/v1/licences/$ID")" 404
expect_eq "no token: 401" "$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/licences/$ID")" 401
expect_match "401 says WWW-Authenticate: Bearer" "$(curl -s -D - -o /dev/null "$U/v1/licences/$ID")" 'WWW-Authenticate: Bearer'
expect_eq "bad token: 401" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer cs_nope' "$U/v1/licences/$ID")" 401
hl=$(curl -s -H "Authorization: Bearer $HTOKEN" "$U/v1/holder/licences")
expect_match "holder token from issuance lists the licence" "$hl" "\"id\":\"$ID\""
hl=$(curl -s -H "Authorization: Bearer $HOLDER" "$U/v1/holder/licences")
expect_match "demo holder (same person) lists it too" "$hl" "\"id\":\"$ID\""
expect_eq "issuer cannot use the holder route (403)" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ISSUER" "$U/v1/holder/licences")" 403

# --- idempotency -----------------------------------------------------------
res=$(post "$ISSUER" key-1 "$E2E_TMP/req.json")
expect_eq "retry with the same key: 200" "$(printf '%s' "$res" | tail -1)" 200
expect_eq "retry returns the same licence" "$(printf '%s' "$res" | sed '$d' | jq -r .id)" "$ID"
jq -c '.fields.business_scope = "零售"' "$E2E_TMP/req.json" >"$E2E_TMP/req2.json"
expect_eq "same key, other body: 409" "$(post "$ISSUER" key-1 "$E2E_TMP/req2.json" | tail -1)" 409
cpids=()
for i in 1 2 3 4 5 6 7 8; do
	post "$ISSUER" key-conc "$E2E_TMP/req.json" >"$E2E_TMP/conc.$i" &
	cpids+=($!)
done
wait "${cpids[@]}"
ids=$(for i in 1 2 3 4 5 6 7 8; do sed '$d' "$E2E_TMP/conc.$i" | jq -r .id; done | sort -u)
expect_eq "8 concurrent duplicates: one licence id" "$(printf '%s\n' "$ids" | wc -l)" 1
n201=$(for i in 1 2 3 4 5 6 7 8; do tail -n1 "$E2E_TMP/conc.$i"; echo; done | grep -c '^201$')
expect_eq "exactly one 201 among them, the others replays" "$n201" 1
n=$(sqlite3 "$D/certsvc.db" "SELECT count(*) FROM licences WHERE id = '$ids'")
expect_eq "the store holds that licence once" "$n" 1

# --- 4xx -------------------------------------------------------------------
expect_eq "no Idempotency-Key: 400" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/v1/licences" \
    -H "Authorization: Bearer $ISSUER" -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/req.json")" 400
expect_eq "text/plain body: 415" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/v1/licences" \
    -H "Authorization: Bearer $ISSUER" -H 'Idempotency-Key: k415' -H 'Content-Type: text/plain' --data-binary "@$E2E_TMP/req.json")" 415
printf '{"type": "DEMO01",\n "holder": }' >"$E2E_TMP/bad.json"
res=$(post "$ISSUER" k400 "$E2E_TMP/bad.json")
expect_eq "malformed JSON: 400" "$(printf '%s' "$res" | tail -1)" 400
expect_match "malformed JSON: message gives line and column" "$(printf '%s' "$res" | sed '$d')" 'line 2 column'
jq -c 'del(.fields.established)' "$E2E_TMP/req.json" >"$E2E_TMP/missing.json"
res=$(post "$ISSUER" k400b "$E2E_TMP/missing.json")
expect_eq "missing required field: 400" "$(printf '%s' "$res" | tail -1)" 400
expect_match "error names the field" "$(printf '%s' "$res" | sed '$d')" 'fields.established'
jq -c '.fields.registered_capital = "lots"' "$E2E_TMP/req.json" >"$E2E_TMP/wrongtype.json"
res=$(post "$ISSUER" k400c "$E2E_TMP/wrongtype.json")
expect_match "wrong field type: 400 naming it" "$res" 'registered_capital'
head -c 70000 /dev/zero | tr '\0' ' ' >"$E2E_TMP/huge.json"
expect_eq "body over max_body: 413" "$(post "$ISSUER" k413 "$E2E_TMP/huge.json" | tail -1)" 413
expect_eq "verifier cannot issue (403)" "$(post "$VERIFIER" k403 "$E2E_TMP/req.json" | tail -1)" 403
expect_match "errors have the documented shape" "$(post "$VERIFIER" k403 "$E2E_TMP/req.json" | sed '$d')" \
    '^\{"error":\{"code":"denied","message":".+"\}\}$'

# --- a second department ---------------------------------------------------
DEPT_B=91350100M000100Y43
"$ADMIN" dept add --data-dir "$D" --code "$DEPT_B" --name "部门乙" --region 350100 >/dev/null 2>&1
expect_eq "dept add B" "$?" 0
"$ADMIN" seal create --data-dir "$D" --dept "$DEPT_B" --name "乙印章" >/dev/null 2>&1
ISSUER_B=$("$ADMIN" client add --data-dir "$D" --role issuer --dept "$DEPT_B" --json | jq -r .secret)
expect_match "issuer token for B" "$ISSUER_B" '^cs_'
expect_eq "B may not issue type DEMO01 (403)" "$(post "$ISSUER_B" kb1 "$E2E_TMP/req.json" | tail -1)" 403
expect_eq "B cannot read A's licence (404, as if unknown)" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ISSUER_B" "$U/v1/licences/$ID")" 404
jq -c --arg s "$SEAL" '.seal = $s' "$E2E_TMP/req.json" >"$E2E_TMP/sealA.json"
cat >"$E2E_TMP/typeB.json" <<JSON
{"code":"TB01","name":"乙类许可","departments":["$DEPT_B"],"validity_days":365,
 "fields":[{"name":"scope","type":"string","required":true}]}
JSON
"$ADMIN" type add --data-dir "$D" --file "$E2E_TMP/typeB.json" >/dev/null 2>&1
jq -c --arg s "$SEAL" '{type:"TB01",holder:.holder,fields:{scope:"x"},seal:$s}' "$E2E_TMP/req.json" >"$E2E_TMP/useA.json"
expect_eq "B cannot seal with A's seal (403)" "$(post "$ISSUER_B" kb2 "$E2E_TMP/useA.json" | tail -1)" 403
jq -c '{type:"TB01",holder:.holder,fields:{scope:"x"}}' "$E2E_TMP/req.json" >"$E2E_TMP/typeBreq.json"
expect_eq "B issues its own type with its own seal (201)" "$(post "$ISSUER_B" kb3 "$E2E_TMP/typeBreq.json" | tail -1)" 201
"$ADMIN" client revoke --data-dir "$D" --client "$("$ADMIN" client list --data-dir "$D" --json | jq -r "[.[] | select(.dept == \"$DEPT_B\")][0].id")" >/dev/null
expect_eq "revoked token: 401" "$(post "$ISSUER_B" kb4 "$E2E_TMP/typeBreq.json" | tail -1)" 401

# --- the audit trail has the issuance, and no holder id ---------------------
n=$(sqlite3 "$D/certsvc.db" "SELECT count(*) FROM audit_events WHERE action = 'licence.issue'")
expect_eq "one audit event per issued licence (A: 2, B: 1)" "$n" 3
n=$(sqlite3 "$D/certsvc.db" "SELECT count(*) FROM audit_events WHERE detail LIKE '%110101199003070011%' OR object LIKE '%110101199003070011%'")
expect_eq "holder id number not in the audit trail" "$n" 0
stop_daemon # writes what the log still buffers
if grep -q 110101199003070011 "$LOG"; then fail "holder id not in the log"; else ok "holder id not in the log"; fi
e2e_summary
