#!/usr/bin/env bash
# Audit trail end to end (issue #7): signed checkpoints, `audit verify`
# naming the first broken sequence number after tampering with the sqlite3
# CLI, truncation caught by an exported checkpoint, a forged checkpoint
# refused, `audit export` as JSON lines, and an independent check of a
# checkpoint's signature with `openssl cms -verify`.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
"$ADMIN" init --demo --data-dir "$D" >/dev/null 2>&1 || { fail "init --demo"; exit 1; }
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	"$ADMIN" client add --data-dir "$D" --role verifier --name "verifier $i" >/dev/null 2>&1 ||
	    fail "client add $i"
done

out=$("$ADMIN" audit verify --data-dir "$D" 2>&1); rc=$?
expect_eq "audit verify on an intact trail exits 0" "$rc" 0
expect_match "it says intact" "$out" "intact"

out=$("$ADMIN" audit checkpoint --data-dir "$D" --export "$E2E_TMP/cp.json" 2>&1); rc=$?
expect_eq "audit checkpoint --export exits 0" "$rc" 0
check "the export is a checkpoint export" \
    jq -e '.format == "certsvc-checkpoint-export/1" and (.seq > 0)' "$E2E_TMP/cp.json"
SEQ=$(jq .seq "$E2E_TMP/cp.json")
jq -r .document "$E2E_TMP/cp.json" | base64 -d >"$E2E_TMP/cp.doc"
jq -r .seal "$E2E_TMP/cp.json" | base64 -d >"$E2E_TMP/cp.p7s"
check "openssl cms -verify accepts the checkpoint's signature" \
    openssl cms -verify -binary -inform DER -in "$E2E_TMP/cp.p7s" \
    -content "$E2E_TMP/cp.doc" -CAfile "$D/ca/root.pem" -purpose any -out /dev/null
expect_eq "the signed document names the head" "$(jq .seq "$E2E_TMP/cp.doc")" "$SEQ"
check "pkcs11-tool lists the audit key in the token" \
    sh -c "SOFTHSM2_CONF='$D/softhsm2.conf' pkcs11-tool --module '$MODULE' --login \
        --pin \"\$(cat '$D/pin')\" --list-objects --type privkey 2>/dev/null | grep -q 'audit-'"
out=$("$ADMIN" audit verify --data-dir "$D" --from-checkpoint "$E2E_TMP/cp.json" 2>&1); rc=$?
expect_eq "verify against the exported checkpoint exits 0" "$rc" 0
expect_match "it names the exported checkpoint" "$out" "exported checkpoint at event $SEQ"

# audit export
"$ADMIN" audit export --data-dir "$D" --out "$E2E_TMP/events.jsonl" 2>/dev/null
expect_eq "audit export writes one line per event" \
    "$(wc -l <"$E2E_TMP/events.jsonl")" "$(sqlite3 "$D/certsvc.db" 'SELECT count(*) FROM audit_events')"
n=$("$ADMIN" audit export --data-dir "$D" --object client: | jq -s 'map(select(.object | startswith("client:") | not)) | length')
expect_eq "--object filters by prefix" "$n" 0
n=$("$ADMIN" audit export --data-dir "$D" --object client: --actor admin | wc -l)
expect_eq "--object and --actor keep the matching events" "$n" \
    "$(sqlite3 "$D/certsvc.db" "SELECT count(*) FROM audit_events WHERE object LIKE 'client:%' AND actor = 'admin'")"
check "there are at least 12 of them" test "$n" -ge 12

# Tamper 1: one field of one row, with the append-only trigger dropped.
sqlite3 "$D/certsvc.db" ".backup '$E2E_TMP/good.db'"
sqlite3 "$D/certsvc.db" "DROP TRIGGER audit_events_no_update;
    UPDATE audit_events SET actor = 'mallory' WHERE seq = 5;"
out=$("$ADMIN" audit verify --data-dir "$D" --json 2>/dev/null); rc=$?
expect_eq "a changed field: audit verify exits 1" "$rc" 1
expect_eq "a changed field: it names sequence 5" "$(printf '%s' "$out" | jq .bad_seq)" 5
out=$("$ADMIN" audit verify --data-dir "$D" 2>&1)
expect_match "the message names the event" "$out" "broken at event 5"

# Tamper 2: delete the last 10 rows and the stored checkpoints; only the
# exported checkpoint can tell.
cp "$E2E_TMP/good.db" "$D/certsvc.db"
rm -f "$D/certsvc.db-wal" "$D/certsvc.db-shm"
LAST=$(sqlite3 "$D/certsvc.db" 'SELECT max(seq) FROM audit_events')
sqlite3 "$D/certsvc.db" "DROP TRIGGER audit_events_no_delete;
    DELETE FROM audit_events WHERE seq > $LAST - 10; DELETE FROM audit_checkpoints;"
out=$("$ADMIN" audit verify --data-dir "$D" 2>&1); rc=$?
expect_eq "truncated, no checkpoint: the chain alone looks intact" "$rc" 0
out=$("$ADMIN" audit verify --data-dir "$D" --from-checkpoint "$E2E_TMP/cp.json" --json 2>/dev/null); rc=$?
expect_eq "truncated: detected against the exported checkpoint (exit 1)" "$rc" 1
expect_eq "truncated: first missing sequence number" \
    "$(printf '%s' "$out" | jq .bad_seq)" "$((LAST - 10 + 1))"
expect_match "truncated: the reason says events are missing" \
    "$(printf '%s' "$out" | jq -r .reason)" "missing"

# Tamper 3: a forged checkpoint (the document changed, the seal kept).
cp "$E2E_TMP/good.db" "$D/certsvc.db"
rm -f "$D/certsvc.db-wal" "$D/certsvc.db-shm"
jq -c '.seq = 3' "$E2E_TMP/cp.doc" | tr -d '\n' >"$E2E_TMP/forged.doc"
jq --arg d "$(base64 -w0 "$E2E_TMP/forged.doc")" '.document = $d | .seq = 3' \
    "$E2E_TMP/cp.json" >"$E2E_TMP/forged.json"
out=$("$ADMIN" audit verify --data-dir "$D" --from-checkpoint "$E2E_TMP/forged.json" --json 2>/dev/null); rc=$?
expect_eq "forged checkpoint: audit verify exits 1" "$rc" 1
expect_match "forged checkpoint: signature failure" \
    "$(printf '%s' "$out" | jq -r .reason)" "signature does not verify"
echo '{"format":"nope"}' >"$E2E_TMP/junk.json"
"$ADMIN" audit verify --data-dir "$D" --from-checkpoint "$E2E_TMP/junk.json" >/dev/null 2>&1; rc=$?
expect_eq "not a checkpoint file: usage error (exit 2)" "$rc" 2

# certsvcd makes checkpoints by itself.
export CERTSVC_AUDIT_CHECKPOINT_SECONDS=10
before=$(sqlite3 "$D/certsvc.db" 'SELECT count(*) FROM audit_checkpoints')
"$ADMIN" client add --data-dir "$D" --role verifier --name late >/dev/null 2>&1 || fail "client add late"
start_daemon "$D" "$E2E_TMP/d.log"
for _ in $(seq 1 60); do
	after=$(sqlite3 "$D/certsvc.db" 'SELECT count(*) FROM audit_checkpoints')
	[ "$after" -gt "$before" ] && break
	sleep 0.5
done
expect_eq "certsvcd signed a checkpoint of the new events by itself" \
    "$([ "$after" -gt "$before" ] && echo yes || echo no)" yes
check "and audit verify still holds" "$ADMIN" audit verify --data-dir "$D"

# Holders: never in clear in the trail; found by their keyed hash.
DEPT=$(jq -r .department "$D/demo-tokens.json")
jq .sample_licence_request "$D/demo-tokens.json" >"$E2E_TMP/a.json"
IDA=$(jq -r .holder.id_number "$E2E_TMP/a.json")
jq '.holder.id_type = "passport" | .holder.id_number = "E12345678" | .holder.name = "李四"' \
    "$E2E_TMP/a.json" >"$E2E_TMP/b.json"
LA=$("$ADMIN" licence issue --data-dir "$D" --dept "$DEPT" --request "$E2E_TMP/a.json" --json 2>/dev/null | jq -r .id)
LB=$("$ADMIN" licence issue --data-dir "$D" --dept "$DEPT" --request "$E2E_TMP/b.json" --json 2>/dev/null | jq -r .id)
check "two holders' licences issued" test -n "$LA" -a -n "$LB" -a "$LA" != "$LB"
"$ADMIN" licence suspend --data-dir "$D" --id "$LA" --reason "audit search test" >/dev/null 2>&1 ||
    fail "suspend holder A's licence"
check_fails "no holder id number anywhere in the audit table" \
    sh -c "sqlite3 '$D/certsvc.db' 'SELECT * FROM audit_events' | grep -qe '$IDA' -e E12345678"
REF=$(sqlite3 "$D/certsvc.db" "SELECT holder_ref FROM licences WHERE id = '$LA' LIMIT 1")
expect_eq "the issuance event carries the holder_ref (the keyed hash)" \
    "$(sqlite3 "$D/certsvc.db" "SELECT json_extract(detail, '\$.holder_ref') FROM audit_events
        WHERE action = 'licence.issue' AND object = 'licence:$LA/1'")" "$REF"
"$ADMIN" audit export --data-dir "$D" --holder "resident_id:$IDA" >"$E2E_TMP/ha.jsonl" 2>"$E2E_TMP/ha.err"
# init --demo made a holder client for holder A: its creation is A's too.
want=$( (sqlite3 "$D/certsvc.db" "SELECT 'client.add client:' || c.id FROM clients c
    JOIN audit_events e ON e.object = 'client:' || c.id WHERE c.holder_ref = '$REF'"
    echo "licence.issue licence:$LA/1"; echo "licence.suspend licence:$LA/1") | sort | tr '\n' ';')
expect_match "holder A has a client made with an audit event (init --demo)" "$want" '^client.add client:C-'
expect_eq "export --holder: holder A's client, issuance and suspension, nothing else" \
    "$(jq -r '"\(.action) \(.object)"' "$E2E_TMP/ha.jsonl" | sort | tr '\n' ';')" "$want"
check_fails "export --holder: nothing of holder B" grep -q "$LB" "$E2E_TMP/ha.jsonl"
out=$(printf 'resident_id:%s\n' "$IDA" | "$ADMIN" audit export --data-dir "$D" --holder - 2>&1)
expect_eq "--holder - (stdin) gives the same events" "$out" "$(cat "$E2E_TMP/ha.jsonl")"
out=$("$ADMIN" audit export --data-dir "$D" --holder-ref "$REF" 2>&1)
expect_eq "--holder-ref gives the same events" "$out" "$(cat "$E2E_TMP/ha.jsonl")"
expect_eq "export --holder for holder B: its issuance only" \
    "$(echo passport:E12345678 | "$ADMIN" audit export --data-dir "$D" --holder - | jq -r .object)" "licence:$LB/1"
expect_eq "an unknown holder: no events" \
    "$("$ADMIN" audit export --data-dir "$D" --holder passport:X0000000 | wc -l)" 0
check_fails "the id number is not in the export either" grep -q "$IDA" "$E2E_TMP/ha.jsonl" "$E2E_TMP/ha.err"
"$ADMIN" audit export --data-dir "$D" --holder "no-colon" >/dev/null 2>&1; rc=$?
expect_eq "--holder without a type: usage error (exit 2)" "$rc" 2

e2e_summary
