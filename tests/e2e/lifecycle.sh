#!/usr/bin/env bash
# Licence lifecycle end to end (issue #5): status changes over HTTP with
# curl (suspend, an illegal transition answered 409 in the documented error
# shape, reinstate, revoke with a reason), renewal and correction (version 2,
# same id, the new document and seal checked with openssl cms -verify, the
# status-list claim in the document), an objection filed with the holder's
# token and resolved by the issuer, the CLI verbs, and the audit chain
# still verifying afterwards.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
out=$("$ADMIN" init --demo --data-dir "$D" 2>&1); rc=$?
expect_eq "init --demo exits 0" "$rc" 0
T=$D/demo-tokens.json
ISSUER=$(jq -r .issuer "$T"); VERIFIER=$(jq -r .verifier "$T")
DEPT=$(jq -r .department "$T")
jq -c .sample_licence_request "$T" >"$E2E_TMP/req.json"

LOG=$E2E_TMP/certsvcd.log
export CERTSVC_PUBLIC_URL=https://certsvc.example.gov
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT
# call METHOD PATH TOKEN [BODY-JSON] -> body, then the status on the last line
call() {
	if [ $# -ge 4 ]; then
		curl -s -w '\n%{http_code}' -X "$1" "$U$2" -H "Authorization: Bearer $3" \
		    -H 'Content-Type: application/json' --data-binary "$4"
	else
		curl -s -w '\n%{http_code}' -X "$1" "$U$2" -H "Authorization: Bearer $3"
	fi
}
code_of() { printf '%s' "$1" | tail -1; }
body_of() { printf '%s' "$1" | sed '$d'; }
issue() { # issue KEY -> sets ID, HTOKEN, BODY
	local res
	res=$(curl -s -w '\n%{http_code}' -X POST "$U/v1/licences" -H "Authorization: Bearer $ISSUER" \
	    -H "Idempotency-Key: $1" -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/req.json")
	BODY=$(body_of "$res")
	ID=$(printf '%s' "$BODY" | jq -r .id)
	HTOKEN=$(printf '%s' "$BODY" | jq -r .holder_token)
}
status_in_db() { sqlite3 "$D/certsvc.db" "SELECT status FROM licences WHERE id = '$1' AND version = $2"; }

# --- issuance carries a status-list slot -----------------------------------
issue life-1
expect_match "licence issued" "$ID" "^DEMO01-$DEPT-"
printf '%s' "$BODY" | jq -r .envelope.document | base64 -d >"$E2E_TMP/doc1.json"
expect_eq "document format certsvc-licence/2" "$(jq -r .format "$E2E_TMP/doc1.json")" certsvc-licence/2
expect_match "document has the status-list claim (public_url)" \
    "$(jq -r .status.status_list.uri "$E2E_TMP/doc1.json")" '^https://certsvc\.example\.gov/v1/status-lists/[0-9]+$'
expect_match "status-list index is a number" "$(jq -r .status.status_list.idx "$E2E_TMP/doc1.json")" '^[0-9]+$'
expect_eq "stored slot is the document's" \
    "$(sqlite3 "$D/certsvc.db" "SELECT status_idx FROM licences WHERE id = '$ID'")" \
    "$(jq -r .status.status_list.idx "$E2E_TMP/doc1.json")"

# --- status changes over HTTP -----------------------------------------------
res=$(call POST "/v1/licences/$ID/suspend" "$ISSUER" '{"reason":"现场检查"}')
expect_eq "suspend: 200" "$(code_of "$res")" 200
expect_eq "suspend: status suspended" "$(body_of "$res" | jq -r .status)" suspended
expect_eq "suspend: reason recorded" "$(body_of "$res" | jq -r .status_reason)" "现场检查"
res=$(call POST "/v1/licences/$ID/suspend" "$ISSUER")
expect_eq "suspend again: 409" "$(code_of "$res")" 409
expect_match "409 in the documented error shape, naming state and action" "$(body_of "$res")" \
    '^\{"error":\{"code":"conflict","message":"[^"]*suspended[^"]*cannot suspend"\}\}$'
res=$(call POST "/v1/licences/$ID/transfer" "$ISSUER" '{}')
expect_eq "transfer a suspended licence: 409" "$(code_of "$res")" 409
res=$(call POST "/v1/licences/$ID/reinstate" "$ISSUER")
expect_eq "reinstate (empty body): 200" "$(code_of "$res")" 200
expect_eq "reinstate: valid again" "$(body_of "$res" | jq -r .status)" valid
res=$(call POST "/v1/licences/$ID/revoke" "$ISSUER" '{}')
expect_eq "revoke without reason: 400" "$(code_of "$res")" 400
expect_match "400 names the member" "$(body_of "$res")" 'reason'
res=$(call POST "/v1/licences/$ID/suspend" "$VERIFIER")
expect_eq "verifier may not change a licence: 403" "$(code_of "$res")" 403
res=$(call POST "/v1/licences/$ID/suspend" "$HTOKEN")
expect_eq "holder may not change a licence: 403" "$(code_of "$res")" 403
res=$(call POST "/v1/licences/$ID/explode" "$ISSUER")
expect_eq "unknown action: 404" "$(code_of "$res")" 404
res=$(call POST "/v1/licences/$ID/revoke" "$ISSUER" '{"reason":"以欺骗手段取得","kind":"penalty"}')
expect_eq "revoke as penalty with a reason: 200" "$(code_of "$res")" 200
expect_eq "revoke: penalty_revoked (吊销)" "$(body_of "$res" | jq -r .status)" penalty_revoked
res=$(call POST "/v1/licences/$ID/reinstate" "$ISSUER")
expect_eq "revoked is final: reinstate 409" "$(code_of "$res")" 409
expect_eq "store says penalty_revoked" "$(status_in_db "$ID" 1)" penalty_revoked

# --- corrections and renewals -------------------------------------------------
issue life-2
ID2=$ID; HTOKEN2=$HTOKEN
res=$(call POST "/v1/licences/$ID2/corrections" "$ISSUER" \
    '{"fields":{"business_scope":"餐饮服务；食品销售","registered_capital":600000,"established":"2020-06-01"},"reason":"经营范围登记有误"}')
expect_eq "correction: 201" "$(code_of "$res")" 201
B=$(body_of "$res")
expect_eq "correction: same id" "$(printf '%s' "$B" | jq -r .id)" "$ID2"
expect_eq "correction: version 2" "$(printf '%s' "$B" | jq -r .version)" 2
expect_eq "correction: new version valid" "$(printf '%s' "$B" | jq -r .status)" valid
expect_eq "old version superseded" "$(status_in_db "$ID2" 1)" superseded
printf '%s' "$B" | jq -r .envelope.document | base64 -d >"$E2E_TMP/doc2.json"
printf '%s' "$B" | jq -r .envelope.seal | base64 -d >"$E2E_TMP/seal2.p7s"
check "openssl cms -verify accepts version 2" openssl cms -verify -binary -inform DER \
    -in "$E2E_TMP/seal2.p7s" -content "$E2E_TMP/doc2.json" -CAfile "$D/ca/root.pem" \
    -purpose any -out /dev/null
expect_eq "version 2 carries the corrected field" "$(jq -r .fields.business_scope "$E2E_TMP/doc2.json")" "餐饮服务；食品销售"
expect_eq "version 2 names the version it supersedes" "$(jq -r .supersedes "$E2E_TMP/doc2.json")" 1
expect_eq "version 2 keeps the holder" "$(jq -r .holder.name "$E2E_TMP/doc2.json")" "张三"
curl -s -o "$E2E_TMP/doc2b.json" -H "Authorization: Bearer $ISSUER" "$U/v1/licences/$ID2/document"
check "GET .../document serves the newest version" cmp "$E2E_TMP/doc2.json" "$E2E_TMP/doc2b.json"
s1=$(sqlite3 "$D/certsvc.db" "SELECT status_list || ':' || status_idx FROM licences WHERE id = '$ID2' AND version = 1")
s2=$(sqlite3 "$D/certsvc.db" "SELECT status_list || ':' || status_idx FROM licences WHERE id = '$ID2' AND version = 2")
if [ -n "$s1" ] && [ -n "$s2" ] && [ "$s1" != "$s2" ]; then ok "version 2 has its own status-list slot"; else fail "version 2 has its own status-list slot" "$s1 / $s2"; fi
res=$(call POST "/v1/licences/$ID2/renew" "$ISSUER" '{"valid_until":"2001-01-01"}')
expect_eq "renewal that does not extend: 400" "$(code_of "$res")" 400
res=$(call POST "/v1/licences/$ID2/renew" "$ISSUER" '{"valid_until":"2099-12-31"}')
expect_eq "renew: 201" "$(code_of "$res")" 201
expect_eq "renew: version 3" "$(body_of "$res" | jq -r .version)" 3
expect_match "renew: new validity" "$(body_of "$res" | jq -r .valid_until)" '^2099-12-31'
expect_eq "version 2 superseded by the renewal" "$(status_in_db "$ID2" 2)" superseded

# --- a second department's issuer sees nothing --------------------------------
DEPT_B=91350100M000100Y43
"$ADMIN" dept add --data-dir "$D" --code "$DEPT_B" --name "部门乙" --region 350100 >/dev/null 2>&1
ISSUER_B=$("$ADMIN" client add --data-dir "$D" --role issuer --dept "$DEPT_B" --json | jq -r .secret)
res=$(call POST "/v1/licences/$ID2/suspend" "$ISSUER_B")
expect_eq "another department's licence: 404, as if unknown" "$(code_of "$res")" 404

# --- objection: filed by the holder, resolved by the issuer -------------------
res=$(call POST /v1/holder/objections "$HTOKEN2" "{\"licence_id\":\"$ID2\",\"text\":\"成立日期有误，应为2020-06-02\"}")
expect_eq "holder files an objection: 201" "$(code_of "$res")" 201
OID=$(body_of "$res" | jq -r .id)
expect_match "objection id O- + 16 hex" "$OID" '^O-[0-9a-f]{16}$'
expect_eq "objection is open" "$(body_of "$res" | jq -r .status)" open
res=$(call POST /v1/holder/objections "$HTOKEN2" "{\"licence_id\":\"$ID2\",\"text\":\"\"}")
expect_eq "empty text: 400" "$(code_of "$res")" 400
res=$(call POST /v1/holder/objections "$ISSUER" "{\"licence_id\":\"$ID2\",\"text\":\"x\"}")
expect_eq "issuer cannot file an objection: 403" "$(code_of "$res")" 403
res=$(call GET "/v1/objections?status=open" "$ISSUER")
expect_eq "issuer lists open objections: 200" "$(code_of "$res")" 200
expect_eq "the objection is listed" "$(body_of "$res" | jq -r '.objections[0].id')" "$OID"
res=$(call GET "/v1/objections" "$ISSUER_B")
expect_eq "department B sees none" "$(body_of "$res" | jq -r '.objections | length')" 0
res=$(call POST "/v1/objections/$OID/resolve" "$ISSUER_B" '{"outcome":"rejected","reason":"x"}')
expect_eq "department B cannot resolve it: 404" "$(code_of "$res")" 404
res=$(call POST "/v1/objections/$OID/resolve" "$ISSUER" \
    '{"outcome":"corrected","fields":{"business_scope":"餐饮服务；食品销售","registered_capital":600000,"established":"2020-06-02"},"reason":"已更正成立日期"}')
expect_eq "issuer resolves by correction: 200" "$(code_of "$res")" 200
B=$(body_of "$res")
expect_eq "objection corrected" "$(printf '%s' "$B" | jq -r .status)" corrected
expect_eq "resolution names version 4" "$(printf '%s' "$B" | jq -r .new_version)" 4
printf '%s' "$B" | jq -r .licence.envelope.document | base64 -d >"$E2E_TMP/doc4.json"
printf '%s' "$B" | jq -r .licence.envelope.seal | base64 -d >"$E2E_TMP/seal4.p7s"
check "openssl cms -verify accepts the corrected version" openssl cms -verify -binary -inform DER \
    -in "$E2E_TMP/seal4.p7s" -content "$E2E_TMP/doc4.json" -CAfile "$D/ca/root.pem" \
    -purpose any -out /dev/null
expect_eq "corrected version has the new date" "$(jq -r .fields.established "$E2E_TMP/doc4.json")" 2020-06-02
res=$(call POST "/v1/objections/$OID/resolve" "$ISSUER" '{"outcome":"rejected","reason":"again"}')
expect_eq "resolving twice: 409" "$(code_of "$res")" 409
res=$(call GET /v1/holder/objections "$HTOKEN2")
expect_eq "holder sees the outcome" "$(body_of "$res" | jq -r '.objections[0].status')" corrected
expect_eq "holder sees the reason" "$(body_of "$res" | jq -r '.objections[0].resolution')" "已更正成立日期"
res=$(call POST /v1/holder/objections "$HTOKEN2" "{\"licence_id\":\"$ID2\",\"text\":\"still wrong\"}")
O2=$(body_of "$res" | jq -r .id)
res=$(call POST "/v1/objections/$O2/resolve" "$ISSUER" '{"outcome":"rejected","reason":"登记信息无误"}')
expect_eq "issuer rejects a second objection: 200" "$(code_of "$res")" 200
expect_eq "rejected" "$(body_of "$res" | jq -r .status)" rejected
stop_daemon

# --- the CLI verbs (the administrator acts on any department) ------------------
"$ADMIN" licence issue --data-dir "$D" --dept "$DEPT" --request "$E2E_TMP/req.json" \
    --idempotency-key cli-life >/dev/null 2>&1
IDC=$("$ADMIN" licence issue --data-dir "$D" --dept "$DEPT" --request "$E2E_TMP/req.json" \
    --idempotency-key cli-life --json | jq -r .id)
check "licence suspend --help" "$ADMIN" licence suspend --help
out=$("$ADMIN" licence suspend --data-dir "$D" --id "$IDC" --reason "检查" --json 2>&1); rc=$?
expect_eq "licence suspend exits 0" "$rc" 0
expect_eq "licence suspend --json: suspended" "$(printf '%s' "$out" | jq -r .status)" suspended
"$ADMIN" licence suspend --data-dir "$D" --id "$IDC" >/dev/null 2>"$E2E_TMP/err"; rc=$?
expect_eq "illegal transition: exit 4 (conflict)" "$rc" 4
expect_match "the message names state and action" "$(cat "$E2E_TMP/err")" 'suspended.*cannot suspend'
"$ADMIN" licence revoke --data-dir "$D" --id "$IDC" >/dev/null 2>&1; rc=$?
expect_eq "revoke without --reason: exit 2" "$rc" 2
"$ADMIN" licence reinstate --data-dir "$D" --id "$IDC" >/dev/null 2>&1; rc=$?
expect_eq "licence reinstate exits 0" "$rc" 0
printf '{"business_scope":"零售","established":"2020-06-01"}' >"$E2E_TMP/fields.json"
out=$("$ADMIN" licence correct --data-dir "$D" --id "$IDC" --fields-file "$E2E_TMP/fields.json" \
    --reason "更正" --json 2>&1); rc=$?
expect_eq "licence correct exits 0" "$rc" 0
expect_eq "licence correct: version 2" "$(printf '%s' "$out" | jq -r .version)" 2
"$ADMIN" licence show --data-dir "$D" --id "$IDC" --document "$E2E_TMP/c.json" --seal "$E2E_TMP/c.p7s" >/dev/null
check "openssl cms -verify accepts the CLI correction" openssl cms -verify -binary -inform DER \
    -in "$E2E_TMP/c.p7s" -content "$E2E_TMP/c.json" -CAfile "$D/ca/root.pem" -purpose any -out /dev/null
out=$("$ADMIN" licence renew --data-dir "$D" --id "$IDC" --valid-until 2098-01-01 2>&1); rc=$?
expect_eq "licence renew exits 0" "$rc" 0
expect_match "licence renew: version 3" "$out" 'version 3 issued'
"$ADMIN" licence transfer --data-dir "$D" --id "$IDC" --to "外省" >/dev/null 2>&1; rc=$?
expect_eq "licence transfer exits 0" "$rc" 0
"$ADMIN" licence cancel --data-dir "$D" --id "$IDC" >/dev/null 2>&1; rc=$?
expect_eq "transferred is final: cancel exits 4" "$rc" 4
"$ADMIN" licence cancel --data-dir "$D" --id NOPE01-X >/dev/null 2>&1; rc=$?
expect_eq "unknown licence: exit 3" "$rc" 3
out=$("$ADMIN" objection list --data-dir "$D" --json 2>&1); rc=$?
expect_eq "objection list exits 0" "$rc" 0
expect_eq "objection list shows both" "$(printf '%s' "$out" | jq -r 'length')" 2
"$ADMIN" objection resolve --data-dir "$D" --id "$OID" --outcome rejected --reason x >/dev/null 2>&1; rc=$?
expect_eq "objection resolve on a resolved one: exit 4" "$rc" 4

# --- audit ----------------------------------------------------------------------
for a in licence.suspend licence.reinstate licence.revoke licence.correct licence.renew \
    licence.transfer objection.file objection.resolve; do
	n=$(sqlite3 "$D/certsvc.db" "SELECT count(*) FROM audit_events WHERE action = '$a'")
	if [ "$n" -ge 1 ]; then ok "audit has $a"; else fail "audit has $a"; fi
done
n=$(sqlite3 "$D/certsvc.db" "SELECT count(*) FROM audit_events WHERE detail LIKE '%110101%' OR object LIKE '%110101%'")
expect_eq "no holder id number in the audit trail" "$n" 0
check "certsvc-admin audit verify" "$ADMIN" audit verify --data-dir "$D"
e2e_summary
