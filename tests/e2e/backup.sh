#!/usr/bin/env bash
# Backup and restore end to end (issue #9): licences issued over HTTP, a
# backup taken while certsvcd runs (and while it issues), more licences,
# the data dir destroyed, the backup restored into a new dir and served:
# every licence from before the backup verifies (POST /v1/verify and
# openssl cms -verify) and the audit trail holds; the later ones are gone.
# A tampered backup and a non-empty target are refused; SIGHUP reloads.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
B=$E2E_TMP/backup
N=$E2E_TMP/restored
SAFE=$E2E_TMP/safe # what an operator keeps apart from the backup
mkdir -p "$SAFE"
out=$("$ADMIN" init --demo --data-dir "$D" 2>&1); rc=$?
expect_eq "init --demo exits 0" "$rc" 0
cp "$D/pin" "$D/demo-tokens.json" "$SAFE/"
# Absolute paths into the data dir move with it on restore; others stay.
sed -i -e "s|^db_path = .*|db_path = \"$D/certsvc.db\"|" \
    -e "s|^pin_file = .*|pin_file = \"$D/pin\"|" \
    -e "s|^web_dir = .*|web_dir = \"$ROOT/web\"|" "$D/certsvc.conf"
T=$SAFE/demo-tokens.json
ISSUER=$(jq -r .issuer "$T"); VERIFIER=$(jq -r .verifier "$T")
jq -c .sample_licence_request "$T" >"$E2E_TMP/req.json"

LOG=$E2E_TMP/certsvcd.log
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT
issue() { # issue KEY -> the response body; fails unless 201
	local res
	res=$(curl -s -w '\n%{http_code}' -X POST "$U/v1/licences" \
	    -H "Authorization: Bearer $ISSUER" -H "Idempotency-Key: $1" \
	    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/req.json")
	[ "$(printf '%s' "$res" | tail -1)" = 201 ] || return 1
	printf '%s' "$res" | sed '$d'
}

before=()
for i in 1 2 3; do
	if body=$(issue "before-$i"); then
		before+=("$(printf '%s' "$body" | jq -r .id)")
		printf '%s' "$body" | jq -r .envelope.document | base64 -d >"$SAFE/doc-$i.json"
		printf '%s' "$body" | jq -r .envelope.seal | base64 -d >"$SAFE/seal-$i.p7s"
	fi
done
expect_eq "three licences issued before the backup" "${#before[@]}" 3

# --- backup while certsvcd runs and keeps issuing --------------------------
( for i in $(seq 1 40); do issue "during-$i" >/dev/null || exit 1; done ) &
LOAD=$!
out=$("$ADMIN" backup --data-dir "$D" --to "$B" --json 2>&1); rc=$?
expect_eq "backup while certsvcd runs and issues: exit 0" "$rc" 0
wait "$LOAD"; expect_eq "issuance went on during the backup" "$?" 0
expect_eq "backup --json names the directory" "$(printf '%s' "$out" | jq -r .to)" "$(realpath "$B")"
expect_eq "the PIN is not in the backup by default" "$(printf '%s' "$out" | jq -r .secrets_included)" false
[ -e "$B/pin" ] && fail "no pin file in the backup" || ok "no pin file in the backup"
for f in manifest.json certsvc.db certsvc.conf holder-key softhsm2.conf ca/root.pem; do
	[ -f "$B/$f" ] && ok "backup holds $f" || fail "backup holds $f"
done
expect_match "backup holds the SoftHSM2 token objects" \
    "$(cd "$B" && find tokens -name '*.object' | wc -l)" '^[1-9]'
expect_eq "backup files are 0600, directories 0700" \
    "$(find "$B" \( -type f ! -perm 600 \) -o \( -type d ! -perm 700 \) | wc -l)" 0
bad=0
while read -r path sha; do
	[ "$(sha256sum "$B/$path" | cut -d' ' -f1)" = "$sha" ] || bad=$((bad + 1))
done < <(jq -r '.files[] | .path + " " + .sha256' "$B/manifest.json")
expect_eq "sha256sum agrees with every manifest entry" "$bad" 0
expect_eq "the manifest lists every file of the backup" \
    "$(jq '.files | length' "$B/manifest.json")" "$(cd "$B" && find . -type f ! -name manifest.json | wc -l)"
check "the database copy passes sqlite3's integrity_check" \
    test "$(sqlite3 "$B/certsvc.db" 'PRAGMA integrity_check')" = ok
SEQ=$(jq -r .audit_last_seq "$B/manifest.json")
expect_eq "the manifest's audit head is the copy's" \
    "$(sqlite3 "$B/certsvc.db" 'SELECT max(seq) FROM audit_events')" "$SEQ"
expect_match "the backup is in the live audit trail" \
    "$("$ADMIN" audit export --data-dir "$D" --object backup: | tail -1)" '"action":"backup"'
out=$("$ADMIN" backup --data-dir "$D" --to "$B" 2>&1); rc=$?
expect_eq "backup into a non-empty directory: exit 4" "$rc" 4
expect_match "... and says why" "$out" 'not empty'

# On a terminal (script(1) gives it one) a progress bar; none in a pipe.
if command -v script >/dev/null; then
	out=$(script -qec "'$ADMIN' backup --data-dir '$D' --to '$E2E_TMP/b-tty'" /dev/null 2>&1)
	expect_match "on a terminal, backup draws a progress bar to the end" "$out" 'backup \[#{20}\]'
	out=$(script -qec "'$ADMIN' restore --from '$E2E_TMP/b-tty' --data-dir '$E2E_TMP/r-tty'" /dev/null 2>&1)
	expect_match "... and so does restore" "$out" 'restore \[#{20}\]'
fi
out=$("$ADMIN" backup --data-dir "$D" --to "$E2E_TMP/b-sec" --include-secrets --json 2>&1)
expect_eq "--include-secrets: the manifest says so" "$(jq -r .secrets_included "$E2E_TMP/b-sec/manifest.json")" true
expect_eq "... and lists pin, so-pin and demo-tokens.json" \
    "$(jq -r '[.files[].path | select(. == "pin" or . == "so-pin" or . == "demo-tokens.json")] | sort | join(",")' "$E2E_TMP/b-sec/manifest.json")" \
    "demo-tokens.json,pin,so-pin"
out=$("$ADMIN" restore --from "$E2E_TMP/b-sec" --data-dir "$E2E_TMP/r-sec" --json 2>&1); rc=$?
expect_eq "... restored, pin_file points at the restored PIN" \
    "$rc $(printf '%s' "$out" | jq -r .config_changed.pin_file)" "0 pin"
check "... and the token logs in with it (key list)" "$ADMIN" key list --data-dir "$E2E_TMP/r-sec"
out=$("$ADMIN" backup --data-dir "$D" --to "$E2E_TMP/b-pipe" 2>&1)
if printf '%s' "$out" | grep -q '\['; then fail "no progress bar in a pipe" "$out"; else ok "no progress bar in a pipe"; fi

after=()
for i in 1 2; do
	body=$(issue "after-$i") && after+=("$(printf '%s' "$body" | jq -r .id)")
done
expect_eq "two licences issued after the backup" "${#after[@]}" 2
stop_daemon; expect_eq "certsvcd stops cleanly" "$?" 0
rm -rf "$D"

# --- a tampered backup is refused, naming the file ----------------------------
cp -a "$B" "$E2E_TMP/tampered"
obj=$(cd "$E2E_TMP/tampered" && find tokens -name '*.object' | head -1)
printf 'X' | dd of="$E2E_TMP/tampered/$obj" bs=1 seek=40 conv=notrunc 2>/dev/null
out=$("$ADMIN" restore --from "$E2E_TMP/tampered" --data-dir "$E2E_TMP/t-out" 2>&1); rc=$?
expect_eq "restore of a tampered backup: exit 2" "$rc" 2
expect_match "... names the changed file" "$out" "$obj.*does not match"
[ -e "$E2E_TMP/t-out" ] && fail "... and writes nothing" || ok "... and writes nothing"
cp "$B/certsvc.conf" "$E2E_TMP/tampered/$obj" 2>/dev/null
rm -f "$E2E_TMP/tampered/manifest.json"
check_fails "a backup without its manifest is refused" \
    "$ADMIN" restore --from "$E2E_TMP/tampered" --data-dir "$E2E_TMP/t-out"

# A manifest naming a path outside the backup, or a file that is a link.
cp -a "$B" "$E2E_TMP/evil"
jq '.files[1].path = "../evil.conf"' "$B/manifest.json" >"$E2E_TMP/evil/manifest.json"
out=$("$ADMIN" restore --from "$E2E_TMP/evil" --data-dir "$E2E_TMP/e-out" 2>&1); rc=$?
expect_eq "a manifest path with '..' is refused: exit 2" "$rc" 2
expect_match "... as malformed" "$out" 'file 2 is malformed'
cp "$B/manifest.json" "$E2E_TMP/evil/manifest.json"
rm "$E2E_TMP/evil/holder-key"; ln -s "$B/holder-key" "$E2E_TMP/evil/holder-key"
out=$("$ADMIN" restore --from "$E2E_TMP/evil" --data-dir "$E2E_TMP/e-out" 2>&1); rc=$?
expect_eq "a backup file that is a symbolic link is refused: exit 8" "$rc" 8
[ -e "$E2E_TMP/e-out" ] && fail "... and nothing is written" || ok "... and nothing is written"

# --- restore into a new dir -----------------------------------------------------
out=$("$ADMIN" restore --from "$B" --data-dir "$N" 2>&1); rc=$?
expect_eq "restore into a new data dir: exit 0" "$rc" 0
expect_match "restore says the PIN must be put back" "$out" "PIN in $N/pin"
expect_match "restore says what to do next" "$out" 'audit verify'
expect_eq "the restored config points at the new dir's token" \
    "$(sed -n 's/^directories.tokendir = //p' "$N/softhsm2.conf")" "$N/tokens"
expect_eq "restored files are 0600, directories 0700" \
    "$(find "$N" \( -type f ! -perm 600 \) -o \( -type d ! -perm 700 \) | wc -l)" 0
expect_eq "restored certsvc.conf: db_path and pin_file point into the new dir, web_dir stays" \
    "$(grep -E '^(db_path|pin_file|web_dir) =' "$N/certsvc.conf" | tr '\n' ' ')" \
    "db_path = \"certsvc.db\" pin_file = \"pin\" web_dir = \"$ROOT/web\" "
out=$("$ADMIN" restore --from "$B" --data-dir "$N" 2>&1); rc=$?
expect_eq "restore into a non-empty data dir: exit 4" "$rc" 4
expect_match "... refusing to overwrite it" "$out" 'refusing to overwrite'

install -m 0600 "$SAFE/pin" "$N/pin"
out=$("$ADMIN" audit verify --data-dir "$N" 2>&1); rc=$?
expect_eq "audit verify passes on the restored data" "$rc" 0
expect_match "the restore is the restored trail's newest event" \
    "$("$ADMIN" audit export --data-dir "$N" | tail -1)" '"action":"restore"'

: >"$LOG.2"
if ! start_daemon "$N" "$LOG.2"; then fail "certsvcd starts on the restored dir" "$(cat "$LOG.2")"; e2e_summary; exit 1; fi
ok "certsvcd starts on the restored dir"
U=http://127.0.0.1:$PORT
vcode=
for i in $(seq 1 50); do
	vcode=$(curl -s -o "$E2E_TMP/v.json" -w '%{http_code}' -X POST "$U/v1/verify" \
	    -H "Authorization: Bearer $VERIFIER" -H 'Content-Type: application/json' \
	    --data-binary "$(jq -nc --arg id "${before[0]}" '{licence_id: $id}')")
	[ "$vcode" != 503 ] && break
	sleep 0.1
done
for i in 1 2 3; do
	id=${before[$((i - 1))]}
	vcode=$(curl -s -o "$E2E_TMP/v.json" -w '%{http_code}' -X POST "$U/v1/verify" \
	    -H "Authorization: Bearer $VERIFIER" -H 'Content-Type: application/json' \
	    --data-binary "$(jq -nc --arg id "$id" '{licence_id: $id}')")
	expect_eq "licence $i from before the backup: verify 200" "$vcode" 200
	expect_eq "licence $i from before the backup: valid" "$(jq -r .result "$E2E_TMP/v.json")" valid
	check "licence $i: openssl cms -verify with the restored root" openssl cms -verify -binary \
	    -inform DER -in "$SAFE/seal-$i.p7s" -content "$SAFE/doc-$i.json" \
	    -CAfile "$N/ca/root.pem" -purpose any -out /dev/null
done
expect_eq "GET of a licence from before the backup: 200" \
    "$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/licences/${before[0]}" -H "Authorization: Bearer $ISSUER")" 200
for i in 1 2; do
	code=$(curl -s -o /dev/null -w '%{http_code}' "$U/v1/licences/${after[$((i - 1))]}" \
	    -H "Authorization: Bearer $ISSUER")
	expect_eq "licence $i from after the backup is absent: 404" "$code" 404
done
if body=$(issue "restored-1"); then
	ok "the restored service issues new licences"
	NEWID=$(printf '%s' "$body" | jq -r .id)
	serial() { printf '%s' "$1" | cut -d- -f4 | sed 's/^0*//'; }
	last=$(serial "${after[1]}")
	expect_match "a new licence never takes a lost licence's serial ($NEWID)" \
	    "$(( $(serial "$NEWID") > last + 999000 ))" '^1$'
else
	fail "the restored service issues new licences"
fi
expect_match "the restore's audit event records the serial skip" \
    "$("$ADMIN" audit export --data-dir "$N" --object backup: | tail -1)" '"serial_skip":1000000'

# --- SIGHUP: reload, keep serving ---------------------------------------------
kill -HUP "$PID"
for i in $(seq 1 50); do grep -q 'reload: pre-signed data' "$LOG.2" && break; sleep 0.1; done
expect_match "SIGHUP is logged" "$(cat "$LOG.2")" 'SIGHUP: reloading pre-signed data'
expect_match "the refresher reports the reload" "$(cat "$LOG.2")" 'reload: pre-signed data is up to date'
kill -0 "$PID" 2>/dev/null && ok "certsvcd runs on after SIGHUP" || fail "certsvcd runs on after SIGHUP"
expect_eq "and answers /healthz" "$(curl -s -o /dev/null -w '%{http_code}' "$U/healthz")" 200
stop_daemon; expect_eq "certsvcd stops cleanly after SIGHUP" "$?" 0

e2e_summary
