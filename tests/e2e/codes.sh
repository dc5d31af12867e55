#!/usr/bin/env bash
# 免证办 codes end to end (issue #6): a holder makes a code, its QR (PNG,
# decoded by zbarimg) carries the long form, a relying party redeems it
# with curl and checks the envelope and the report with openssl cms; a
# second redemption is refused; the holder's usage list shows exactly one
# use.  Then the short form, revocation, another holder, a verifier
# without a usage list (the same 404, byte for byte), the audit trail and
# the database (no code in it), and the rate limit (429, Retry-After).
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
"$ADMIN" init --demo --data-dir "$D" >/dev/null 2>&1; rc=$?
expect_eq "init --demo exits 0" "$rc" 0
T=$D/demo-tokens.json
ISSUER=$(jq -r .issuer "$T"); VERIFIER=$(jq -r .verifier "$T")
HOLDER_ID=$(jq -r .sample_licence_request.holder.id_number "$T")
jq -c .sample_licence_request "$T" >"$E2E_TMP/req.json"
VID=$("$ADMIN" client list --data-dir "$D" --json | jq -r '[.[] | select(.role == "verifier")][0].id')
expect_eq "the demo verifier's usage list is the demo type" \
    "$("$ADMIN" client list --data-dir "$D" --json | jq -c '[.[] | select(.role == "verifier")][0].types')" '["DEMO01"]'
expect_match "client list shows the usage list" "$("$ADMIN" client list --data-dir "$D")" 'verifier .* DEMO01'
# A verifier without a usage list, one with it for the rate limit, and
# another person as holder.
NOLIST=$("$ADMIN" client add --data-dir "$D" --role verifier --name nolist --json | jq -r .secret)
LIMITED=$("$ADMIN" client add --data-dir "$D" --role verifier --types DEMO01 --name limited --json | jq -r .secret)
check_fails "client add --types with an unknown type fails" \
    "$ADMIN" client add --data-dir "$D" --role verifier --types DEMO01,NOPE
check_fails "client add --types is for verifiers only" \
    "$ADMIN" client add --data-dir "$D" --role issuer --dept "$(jq -r .department "$T")" --types DEMO01
printf '110101199001010010\n' >"$E2E_TMP/other-id"
OTHER=$("$ADMIN" client add --data-dir "$D" --role holder --holder-id-type resident_id \
    --holder-id-number-file "$E2E_TMP/other-id" --json | jq -r .secret)

LOG=$E2E_TMP/certsvcd.log
export CERTSVC_CODE_FAIL_LIMIT_CLIENT=5 CERTSVC_CODE_FAIL_LIMIT_ADDR=1000 CERTSVC_CODE_FAIL_WINDOW_SECONDS=120
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT

# call METHOD PATH TOKEN [BODY_FILE] -> body, then the status on its own line
call() {
	local args=(-s -w '\n%{http_code}' -X "$1" "$U$2" -H "Authorization: Bearer $3")
	[ $# -gt 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "@$4")
	curl "${args[@]}"
}
body() { sed '$d'; }
status() { tail -n1; }
redeem() { # redeem TOKEN CODE OUT -> status; the body into OUT
	jq -nc --arg c "$2" '{code: $c}' >"$E2E_TMP/redeem-req.json"
	curl -s -o "$3" -w '%{http_code}' -X POST "$U/v1/codes/redeem" -H "Authorization: Bearer $1" \
	    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/redeem-req.json"
}

res=$(curl -s -X POST "$U/v1/licences" -H "Authorization: Bearer $ISSUER" \
    -H 'Idempotency-Key: codes-1' -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/req.json")
ID=$(printf '%s' "$res" | jq -r .id)
HOLDER=$(printf '%s' "$res" | jq -r .holder_token)
expect_match "a licence is issued" "$ID" '^DEMO01-'

# The report key is certified by the refresher shortly after start.
for _ in $(seq 1 50); do
	jq -nc --arg id "$ID" '{licence_id: $id}' >"$E2E_TMP/v.json"
	[ "$(call POST /v1/verify "$VERIFIER" "$E2E_TMP/v.json" | status)" = 200 ] && break
	sleep 0.1
done

# --- the holder makes a code ------------------------------------------------
jq -nc --arg id "$ID" '{licence_id: $id, purpose: "开办餐馆 restaurant licence"}' >"$E2E_TMP/create.json"
res=$(call POST /v1/holder/codes "$HOLDER" "$E2E_TMP/create.json")
expect_eq "POST /v1/holder/codes: 201" "$(printf '%s' "$res" | status)" 201
printf '%s' "$res" | body >"$E2E_TMP/code.json"
CODE=$(jq -r .code "$E2E_TMP/code.json"); CID=$(jq -r .id "$E2E_TMP/code.json")
SHORT=$(jq -r .short_code "$E2E_TMP/code.json")
expect_match "the long form: 43 base64url characters" "$CODE" '^[A-Za-z0-9_-]{43}$'
expect_match "the short form: XXXX-XXXX-XXX without 0 1 I L O" "$SHORT" '^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{3}$'
exp=$(jq -r .expires "$E2E_TMP/code.json"); cre=$(jq -r .created "$E2E_TMP/code.json")
expect_eq "it expires after 5 minutes by default" "$(($(date -d "$exp" +%s) - $(date -d "$cre" +%s)))" 300
expect_eq "one use by default" "$(jq -r .max_uses "$E2E_TMP/code.json")" 1
expect_match "links to the PNG" "$(jq -r .qr_png "$E2E_TMP/code.json")" "/v1/holder/codes/$CID/qr\.png\$"
expect_match "links to the SVG" "$(jq -r .qr_svg "$E2E_TMP/code.json")" "/v1/holder/codes/$CID/qr\.svg\$"
expect_eq "GET /v1/holder/codes lists it" "$(call GET /v1/holder/codes "$HOLDER" | body | jq -r '[.codes[].id] | join(",")')" "$CID"

# --- its QR ---------------------------------------------------------------------
code=$(curl -s -o "$E2E_TMP/qr.png" -w '%{http_code} %{content_type}' "$U/v1/holder/codes/$CID/qr.png" \
    -H "Authorization: Bearer $HOLDER")
expect_eq "GET qr.png: 200 image/png" "$code" "200 image/png"
expect_eq "zbarimg decodes the PNG to the long form" "$(zbarimg --raw -q "$E2E_TMP/qr.png" 2>/dev/null)" "$CODE"
code=$(curl -s -o "$E2E_TMP/qr.svg" -w '%{http_code} %{content_type}' "$U/v1/holder/codes/$CID/qr.svg" \
    -H "Authorization: Bearer $HOLDER")
expect_eq "GET qr.svg: 200 image/svg+xml" "$code" "200 image/svg+xml"
expect_match "the SVG is an SVG document" "$(head -c 300 "$E2E_TMP/qr.svg")" '<svg'
expect_eq "another holder gets 404 for the QR" "$(call GET "/v1/holder/codes/$CID/qr.png" "$OTHER" | status)" 404
expect_eq "another holder cannot revoke it (404)" "$(call DELETE "/v1/holder/codes/$CID" "$OTHER" | status)" 404
expect_eq "another holder lists no code" "$(call GET /v1/holder/codes "$OTHER" | body | jq '.codes | length')" 0
expect_eq "a verifier cannot read the QR (403)" "$(call GET "/v1/holder/codes/$CID/qr.png" "$VERIFIER" | status)" 403
jq -nc --arg id "$ID" '{licence_id: $id, purpose: "x"}' >"$E2E_TMP/create-other.json"
expect_eq "another holder cannot make a code for the licence (404)" \
    "$(call POST /v1/holder/codes "$OTHER" "$E2E_TMP/create-other.json" | status)" 404

# --- the relying party redeems it ------------------------------------------------
expect_eq "POST /v1/codes/redeem (long form): 200" "$(redeem "$VERIFIER" "$CODE" "$E2E_TMP/r1.json")" 200
expect_eq "the answer names the licence" "$(jq -r .licence_id "$E2E_TMP/r1.json")" "$ID"
expect_eq "the answer carries the purpose" "$(jq -r .purpose "$E2E_TMP/r1.json")" "开办餐馆 restaurant licence"
expect_eq "the verification result is valid" "$(jq -r .result "$E2E_TMP/r1.json")" valid
jq -r .envelope.document "$E2E_TMP/r1.json" | base64 -d >"$E2E_TMP/doc.json"
jq -r .envelope.seal "$E2E_TMP/r1.json" | base64 -d >"$E2E_TMP/seal.p7s"
check "openssl cms -verify accepts the redeemed envelope" openssl cms -verify -binary -inform DER \
    -in "$E2E_TMP/seal.p7s" -content "$E2E_TMP/doc.json" -CAfile "$D/ca/root.pem" \
    -purpose any -out /dev/null
jq -r .report.document "$E2E_TMP/r1.json" | base64 -d >"$E2E_TMP/report.json"
jq -r .report.seal "$E2E_TMP/r1.json" | base64 -d >"$E2E_TMP/report.p7s"
check "openssl cms -verify accepts the fresh report" openssl cms -verify -binary -inform DER \
    -in "$E2E_TMP/report.p7s" -content "$E2E_TMP/report.json" -CAfile "$D/ca/root.pem" -out /dev/null
expect_eq "the report is about this licence" "$(jq -r .licence_id "$E2E_TMP/report.json")" "$ID"
expect_eq "second redemption: 404" "$(redeem "$VERIFIER" "$CODE" "$E2E_TMP/r2.json")" 404
UNKNOWN=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
expect_eq "an unknown code: 404" "$(redeem "$VERIFIER" "$UNKNOWN" "$E2E_TMP/unknown.json")" 404
expect_eq "a mistyped short code: 404" "$(redeem "$VERIFIER" "AAAA-BBBB-CCC" "$E2E_TMP/typo.json")" 404
expect_eq "mistyped and unknown: the same body" "$(cmp -s "$E2E_TMP/typo.json" "$E2E_TMP/unknown.json" && echo same)" same
expect_eq "used and unknown: the same body, byte for byte" "$(cmp -s "$E2E_TMP/r2.json" "$E2E_TMP/unknown.json" && echo same)" same
res=$(call GET /v1/holder/usage "$HOLDER")
expect_eq "GET /v1/holder/usage: 200" "$(printf '%s' "$res" | status)" 200
printf '%s' "$res" | body >"$E2E_TMP/usage.json"
expect_eq "the usage list shows exactly one record" "$(jq '.usage | length' "$E2E_TMP/usage.json")" 1
expect_eq "... by the relying party, of the code, for the purpose" \
    "$(jq -r '.usage[0] | [.relying_party.id, .code_id, .purpose, .licence_id] | join("|")' "$E2E_TMP/usage.json")" \
    "$VID|$CID|开办餐馆 restaurant licence|$ID"
expect_eq "another holder sees no usage" "$(call GET /v1/holder/usage "$OTHER" | body | jq '.usage | length')" 0
expect_eq "the issuer sees the use of its licence" \
    "$(call GET "/v1/usage?licence=$ID" "$ISSUER" | body | jq '.usage | length')" 1
expect_eq "a verifier cannot list usage (403)" "$(call GET /v1/usage "$VERIFIER" | status)" 403

# --- the short form, typed at a counter ---------------------------------------------
jq -nc --arg id "$ID" '{licence_id: $id, purpose: "counter", ttl: 600, max_uses: 2}' >"$E2E_TMP/create2.json"
call POST /v1/holder/codes "$HOLDER" "$E2E_TMP/create2.json" | body >"$E2E_TMP/code2.json"
SHORT2=$(jq -r .short_code "$E2E_TMP/code2.json"); CODE2=$(jq -r .code "$E2E_TMP/code2.json")
typed=$(printf '%s' "$SHORT2" | tr 'A-Z-' 'a-z ')
expect_eq "the verifier without a usage list: 404" "$(redeem "$NOLIST" "$SHORT2" "$E2E_TMP/nolist.json")" 404
expect_eq "usage-list denial and unknown: the same body" "$(cmp -s "$E2E_TMP/nolist.json" "$E2E_TMP/unknown.json" && echo same)" same
expect_eq "the short form, typed in lower case with spaces: 200" "$(redeem "$VERIFIER" "$typed" "$E2E_TMP/r3.json")" 200
expect_eq "the short form's answer is valid" "$(jq -r .result "$E2E_TMP/r3.json")" valid

# --- revocation ------------------------------------------------------------------------
expect_eq "DELETE /v1/holder/codes/{id}: 200" "$(call DELETE "/v1/holder/codes/$(jq -r .id "$E2E_TMP/code2.json")" "$HOLDER" | status)" 200
expect_eq "a revoked code: 404" "$(redeem "$VERIFIER" "$CODE2" "$E2E_TMP/rev.json")" 404
expect_eq "revoked and unknown: the same body" "$(cmp -s "$E2E_TMP/rev.json" "$E2E_TMP/unknown.json" && echo same)" same
expect_eq "the revoked code's QR: 404" "$(call GET "/v1/holder/codes/$(jq -r .id "$E2E_TMP/code2.json")/qr.svg" "$HOLDER" | status)" 404

# --- what the audit trail and the database keep ----------------------------------------
DB=$D/certsvc.db
outcomes=$(sqlite3 "$DB" "SELECT group_concat(outcome, ' ') FROM (SELECT outcome FROM audit_events WHERE action = 'code.redeem' ORDER BY seq)")
expect_eq "the audit trail records the real reasons" "$outcomes" \
    "ok denied:used_up denied:unknown denied:malformed denied:not_in_usage_list ok denied:revoked"
expect_eq "code.create and code.revoke are audited" \
    "$(sqlite3 "$DB" "SELECT count(*) FROM audit_events WHERE action IN ('code.create', 'code.revoke')")" 3
leaks=0
for f in "$DB" "$DB-wal"; do
	[ -f "$f" ] || continue
	for s in "$CODE" "$CODE2" "$SHORT" "$(printf '%s' "$SHORT" | tr -d -)"; do
		grep -qaF -- "$s" "$f" && leaks=$((leaks + 1))
	done
done
expect_eq "no form of any code in the database files" "$leaks" 0
expect_eq "no holder identifier in the audit trail" \
    "$(sqlite3 "$DB" "SELECT count(*) FROM audit_events WHERE instr(coalesce(detail, '') || object || actor, '$HOLDER_ID') > 0")" 0
check "certsvc-admin audit verify: the chain holds" "$ADMIN" audit verify --data-dir "$D"

# --- the rate limit on failed redemptions ------------------------------------------------
for _ in 1 2 3 4 5; do redeem "$LIMITED" "2345-6789-ABC" /dev/null >/dev/null; done
hdrs=$(curl -s -D - -o "$E2E_TMP/429.json" -X POST "$U/v1/codes/redeem" -H "Authorization: Bearer $LIMITED" \
    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/redeem-req.json")
expect_match "after 5 failures: 429" "$hdrs" '^HTTP/1.1 429'
expect_match "with Retry-After in seconds" "$hdrs" $'Retry-After: [0-9]+\r'
ra=$(printf '%s' "$hdrs" | tr -d '\r' | sed -nE 's/^Retry-After: ([0-9]+)$/\1/p')
if [ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 120 ]; then ok "Retry-After within the window ($ra s)"; else fail "Retry-After within the window" "$ra"; fi
expect_eq "the 429 body says rate_limited" "$(jq -r .error.code "$E2E_TMP/429.json")" rate_limited
expect_eq "another verifier is not limited by it" "$(redeem "$NOLIST" "2345-6789-ABC" /dev/null)" 404

stop_daemon; rc=$?
expect_eq "SIGTERM: certsvcd exits 0" "$rc" 0
if grep -Eq 'Sanitizer|runtime error' "$LOG"; then fail "no sanitizer report in the log" "$(grep -E -A5 'Sanitizer|runtime error' "$LOG")"; else ok "no sanitizer report in the log"; fi
e2e_summary
