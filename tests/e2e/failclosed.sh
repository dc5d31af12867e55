#!/usr/bin/env bash
# Fail closed (issue #7): while certsvcd runs, a trigger makes every insert
# into audit_events fail.  A licence issuance and a suspension must then
# write nothing at all (no licence, no idempotency record, no status
# change, no event) and the API answers 503 with Retry-After and a JSON
# error; once the trigger is gone the same request succeeds and the trail
# verifies.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
"$ADMIN" init --demo --data-dir "$D" >/dev/null 2>&1 || { fail "init --demo"; exit 1; }
T=$D/demo-tokens.json
ISSUER=$(jq -r .issuer "$T")
jq -c .sample_licence_request "$T" >"$E2E_TMP/req.json"
DB=$D/certsvc.db
LOG=$E2E_TMP/certsvcd.log
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT

issue() { # issue KEY -> headers + body in $E2E_TMP/resp, status on stdout
	curl -s -D "$E2E_TMP/hdr" -o "$E2E_TMP/resp" -w '%{http_code}' -X POST "$U/v1/licences" \
	    -H "Authorization: Bearer $ISSUER" -H "Idempotency-Key: $1" \
	    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/req.json"
}
suspend() { # suspend ID -> status
	curl -s -D "$E2E_TMP/hdr" -o "$E2E_TMP/resp" -w '%{http_code}' -X POST \
	    "$U/v1/licences/$1/suspend" -H "Authorization: Bearer $ISSUER" \
	    -H 'Content-Type: application/json' --data '{"reason":"fail-closed test"}'
}
state() { # what a rolled-back change must not move
	sqlite3 "$DB" "SELECT (SELECT count(*) FROM licences), (SELECT group_concat(status) FROM licences),
	    (SELECT count(*) FROM idempotency), (SELECT count(*) FROM clients),
	    (SELECT max(seq) FROM audit_events)"
}

expect_eq "an issuance before: 201" "$(issue fc-1)" 201
ID=$(jq -r .id "$E2E_TMP/resp")
# Let the refresher finish what it does at start (OCSP key, audit key,
# first checkpoint) so that the state below stays still.
sleep 1

sqlite3 "$DB" "CREATE TRIGGER audit_fail BEFORE INSERT ON audit_events
    BEGIN SELECT RAISE(ABORT, 'audit write refused by test'); END;"
before=$(state)

expect_eq "issuance while the audit insert fails: 503" "$(issue fc-2)" 503
check "503 with a JSON error body" \
    jq -e '.error.code == "store" and (.error.message | type) == "string"' "$E2E_TMP/resp"
expect_match "503 says when to retry" "$(cat "$E2E_TMP/hdr")" $'Retry-After: [0-9]+\r'
expect_match "503 is application/json" "$(cat "$E2E_TMP/hdr")" 'Content-Type: application/json'
expect_eq "the issuance wrote nothing (licences, idempotency, holder client, events)" \
    "$(state)" "$before"

expect_eq "suspension while the audit insert fails: 503" "$(suspend "$ID")" 503
check "503 with a JSON error body" jq -e '.error.code == "store"' "$E2E_TMP/resp"
expect_eq "the licence is still valid: the suspension was rolled back" \
    "$(sqlite3 "$DB" "SELECT status FROM licences WHERE id = '$ID'")" valid
expect_eq "nothing else moved either" "$(state)" "$before"

sqlite3 "$DB" "DROP TRIGGER audit_fail"
expect_eq "the same issuance retried with its key once the trail is writable: 201" \
    "$(issue fc-2)" 201
expect_eq "the suspension retried: 200" "$(suspend "$ID")" 200
expect_eq "now suspended" "$(sqlite3 "$DB" "SELECT status FROM licences WHERE id = '$ID'")" suspended
check "the trail verifies: no gap, no half-written event" "$ADMIN" audit verify --data-dir "$D"
check "certsvcd stayed up" kill -0 "$PID"

e2e_summary
