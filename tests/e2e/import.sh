#!/usr/bin/env bash
# Licences from the CLI (issue #4): "licence issue" (the API's code path,
# idempotent), "licence show" (parts that openssl cms -verify accepts) and
# "licence import --csv": good and bad rows, the rejects file, a rerun that
# skips what was done, files refused up front, and an import killed with
# SIGKILL and run again: every row issued exactly once.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
out=$("$ADMIN" init --demo --data-dir "$D" 2>&1); rc=$?
expect_eq "init --demo exits 0" "$rc" 0
T=$D/demo-tokens.json
DEPT=$(jq -r .department "$T"); SEAL=$(jq -r .seal "$T")
jq -c .sample_licence_request "$T" >"$E2E_TMP/req.json"
count() { sqlite3 "$1/certsvc.db" "SELECT count(*) FROM licences"; }

# --- licence issue -----------------------------------------------------------
out=$("$ADMIN" licence issue --data-dir "$D" --dept "$DEPT" --request "$E2E_TMP/req.json" 2>&1); rc=$?
expect_eq "licence issue exits 0" "$rc" 0
ID1=$(printf '%s\n' "$out" | sed -nE 's/^issued licence (.*)$/\1/p')
expect_match "prints the id" "$ID1" "^DEMO01-$DEPT-[0-9]{4}-[0-9]{8,}-[0-9A-Z]$"
expect_match "prints the holder token once" "$out" 'holder token \(shown once\): cs_'
expect_match "prints version and status" "$out" $'version: 1\nstatus:  valid'
out=$("$ADMIN" licence issue --data-dir "$D" --dept "$DEPT" --request "$E2E_TMP/req.json" --json 2>&1); rc=$?
expect_eq "same request again exits 0" "$rc" 0
expect_eq "same request again: the same licence" "$(printf '%s' "$out" | jq -r .id)" "$ID1"
expect_eq "same request again: a replay" "$(printf '%s' "$out" | jq -r .replayed)" true
expect_eq "a replay hands out no holder token" "$(printf '%s' "$out" | jq -r .holder_token)" null
expect_eq "licence issue twice: one licence" "$(count "$D")" 1
out=$("$ADMIN" licence issue --data-dir "$D" --dept "$DEPT" --request "$E2E_TMP/req.json" \
    --idempotency-key other-1 --json --out "$E2E_TMP/env.json" 2>&1)
expect_eq "another key: another licence" "$(count "$D")" 2
expect_eq "--json has the envelope" "$(printf '%s' "$out" | jq -r .envelope.format)" certsvc-envelope/1
expect_match "--json has the holder token" "$(printf '%s' "$out" | jq -r .holder_token)" '^cs_'
expect_eq "--out writes the envelope (0644)" "$(stat -c %a "$E2E_TMP/env.json")" 644
expect_eq "--out envelope is the licence's" "$(jq -r .id "$E2E_TMP/env.json")" "$(printf '%s' "$out" | jq -r .id)"
jq -c '.fields.registered_capital = "lots"' "$E2E_TMP/req.json" >"$E2E_TMP/bad.json"
out=$("$ADMIN" licence issue --data-dir "$D" --dept "$DEPT" --request "$E2E_TMP/bad.json" 2>&1); rc=$?
expect_eq "bad request: exit 2" "$rc" 2
expect_match "bad request: the message names the field" "$out" 'fields\.registered_capital: must be a number'
printf '{"type": "DEMO01",\n "holder": }' >"$E2E_TMP/broken.json"
out=$("$ADMIN" licence issue --data-dir "$D" --dept "$DEPT" --request "$E2E_TMP/broken.json" 2>&1); rc=$?
expect_eq "malformed JSON: exit 2" "$rc" 2
expect_match "malformed JSON: line and column" "$out" 'line 2 column'
out=$("$ADMIN" licence issue --data-dir "$D" --dept 91110000MA0000000X --request "$E2E_TMP/req.json" 2>&1); rc=$?
expect_eq "unknown department: exit 3" "$rc" 3
expect_match "unknown department: says so" "$out" "no department '91110000MA0000000X'"
expect_eq "failed issues add nothing" "$(count "$D")" 2

# --- licence import: 50 good rows and 5 bad ones ------------------------------
CSV=$E2E_TMP/batch.csv
{
	printf '\xef\xbb\xbf'
	printf 'holder_name,holder_id_type,holder_id_number,valid_from,valid_until,seal,business_scope,registered_capital,established\r\n'
	printf '"Zhang, ""San""",resident_id,110101199001010001,,,,"餐饮服务,零售",1000.5,2020-06-01\r\n'
	printf '"李\n四",passport,E00000002,2025-01-01,2030-12-31,%s,"scope",2000,2020-06-02\r\n' "$SEAL"
	for i in $(seq 3 55); do
		case $i in
		10) printf '王五,resident_id,1101011990010100%02d,,,,,100,2020-06-01\r\n' "$i" ;;     # missing required field
		20) printf '赵六,resident_id,1101011990010100%02d,,,,x,100,2021-02-30\r\n' "$i" ;;    # bad date
		30) printf '孙七,resident_id,1101011990010100%02d,,,,x,lots,2020-06-01\r\n' "$i" ;;   # wrong number
		40) printf '周八,resident_id,1101011990010100%02d,,,S-0000000000000000,x,1,2020-06-01\r\n' "$i" ;; # unknown seal
		50) printf '吴九,driver_licence,1101011990010100%02d,,,,x,1,2020-06-01\r\n' "$i" ;;  # bad id type
		*) printf 'Holder %d,resident_id,1101011990010100%02d,,,,scope %d,%d,2020-06-%02d\r\n' "$i" "$i" "$i" "$((i * 100))" "$((i % 28 + 1))" ;;
		esac
	done
} >"$CSV"
before=$(count "$D")
out=$("$ADMIN" licence import --data-dir "$D" --csv "$CSV" --dept "$DEPT" --type DEMO01 2>"$E2E_TMP/import.err"); rc=$?
expect_eq "import with rejected rows: exit 9" "$rc" 9
expect_match "summary: 50 issued, 5 rejected" "$out" '55 rows: 50 issued, 0 already imported, 5 rejected'
expect_match "summary: time and rate" "$out" 'time [0-9.]+ s, [0-9]+ rows/s'
expect_eq "no progress bar when stderr is not a terminal" "$(cat "$E2E_TMP/import.err")" ""
expect_eq "50 licences imported" "$(($(count "$D") - before))" 50
R=$CSV.rejects.csv
check "rejects file written next to the CSV" test -s "$R"
expect_eq "rejects file is mode 600 (holder ids)" "$(stat -c %a "$R")" 600
expect_eq "rejects file: header + 5 rows" "$(grep -c $'\r$' "$R")" 6
expect_eq "rejects header: original columns + reason" "$(head -1 "$R" | tr -d '\r')" \
    'holder_name,holder_id_type,holder_id_number,valid_from,valid_until,seal,business_scope,registered_capital,established,reason'
rej=$(tail -n +2 "$R")
expect_match "reason: missing field named" "$(sed -n 2p "$R")" '^王五,.*,fields\.business_scope: required'
expect_match "reason: bad date named" "$(sed -n 3p "$R")" '^赵六,.*2021-02-30,fields\.established: must be a date'
expect_match "reason: wrong number named" "$(sed -n 4p "$R")" '^孙七,.*,lots,.*fields\.registered_capital: must be a number'
expect_match "reason: unknown seal named" "$(sed -n 5p "$R")" "^周八,.*seal: no seal 'S-0000000000000000'"
expect_match "reason: bad id type named (quoted: it has commas)" "$(sed -n 6p "$R")" '^吴九,driver_licence,.*,"holder id_type must be one of'
if printf '%s' "$out" | grep -q 110101199001010; then fail "holder ids not in the summary"; else ok "holder ids not in the summary"; fi

# The CSV cells reached the sealed documents as typed values.
docs=$(sqlite3 "$D/certsvc.db" "SELECT CAST(document AS TEXT) FROM licences" | jq -s .)
expect_eq "quoted cell with comma and quotes" \
    "$(printf '%s' "$docs" | jq -r '.[] | select(.holder.id_number == "110101199001010001") | .holder.name')" 'Zhang, "San"'
expect_eq "quoted cell with a newline" \
    "$(printf '%s' "$docs" | jq -r '.[] | select(.holder.id_number == "E00000002") | .holder.name')" $'李\n四'
expect_eq "number column typed as a number" \
    "$(printf '%s' "$docs" | jq -r '.[] | select(.holder.id_number == "110101199001010001") | .fields.registered_capital | type')" number
expect_eq "valid_from/valid_until columns used" \
    "$(printf '%s' "$docs" | jq -r '.[] | select(.holder.id_number == "E00000002") | .valid_from + " " + .valid_until')" \
    '2025-01-01 2030-12-31'
n=$(sqlite3 "$D/certsvc.db" "SELECT count(*) FROM audit_events WHERE action = 'licence.issue' AND actor = 'admin:$DEPT'")
expect_eq "audited as admin:<dept> (2 issue + 50 import)" "$n" 52

# A licence from the import verifies with openssl.
IMPID=$(sqlite3 "$D/certsvc.db" "SELECT licence_id FROM idempotency WHERE key LIKE 'import:%:1'")
out=$("$ADMIN" licence show --data-dir "$D" --id "$IMPID" --document "$E2E_TMP/doc.json" \
    --seal "$E2E_TMP/seal.p7s" --envelope "$E2E_TMP/env2.json" 2>&1); rc=$?
expect_eq "licence show exits 0" "$rc" 0
expect_match "licence show prints the summary" "$out" "id +$IMPID"
check "imported licence verifies with openssl cms -verify" openssl cms -verify -binary -inform DER \
    -in "$E2E_TMP/seal.p7s" -content "$E2E_TMP/doc.json" -CAfile "$D/ca/root.pem" -purpose any -out /dev/null
expect_eq "the envelope carries the same seal" "$(jq -r .seal "$E2E_TMP/env2.json")" "$(base64 -w0 "$E2E_TMP/seal.p7s")"
expect_eq "licence show --json" "$("$ADMIN" licence show --data-dir "$D" --id "$IMPID" --json | jq -r .status)" valid
out=$("$ADMIN" licence show --data-dir "$D" --id NOPE-1 2>&1); rc=$?
expect_eq "licence show of an unknown id: exit 3" "$rc" 3

# --- run again: nothing issued twice ------------------------------------------
out=$("$ADMIN" licence import --data-dir "$D" --csv "$CSV" --dept "$DEPT" --type DEMO01 --json 2>&1); rc=$?
expect_eq "rerun: exit 9 (the same 5 rows rejected)" "$rc" 9
expect_eq "rerun: 0 issued" "$(printf '%s' "$out" | jq -r .issued)" 0
expect_eq "rerun: 50 already imported" "$(printf '%s' "$out" | jq -r .already_imported)" 50
expect_eq "rerun: 5 rejected" "$(printf '%s' "$out" | jq -r .rejected)" 5
expect_eq "rerun: still 50 imported licences" "$(($(count "$D") - before))" 50

# The rejects file imports as it is (its reason column is ignored).
out=$("$ADMIN" licence import --data-dir "$D" --csv "$R" --dept "$DEPT" --type DEMO01 --json 2>&1); rc=$?
expect_eq "rejects file re-imported: the 5 rows rejected again" "$(printf '%s' "$out" | jq -r '[.issued, .rejected] | join(" ")')" "0 5"
expect_eq "its own rejects file has one reason column" "$(head -1 "$R.rejects.csv" | tr -d '\r' | tr ',' '\n' | grep -c '^reason$')" 1

# --- files refused up front: nothing imported --------------------------------
n0=$(count "$D")
printf 'holder_name,holder_id_type,holder_id_number,business_scope,established,colour\nA,passport,X1,s,2020-01-01,red\n' >"$E2E_TMP/unknown.csv"
out=$("$ADMIN" licence import --data-dir "$D" --csv "$E2E_TMP/unknown.csv" --dept "$DEPT" --type DEMO01 2>&1); rc=$?
expect_eq "unknown column: exit 2" "$rc" 2
expect_match "unknown column: named" "$out" "unknown column 'colour'"
printf 'holder_name,holder_id_type,holder_id_number,business_scope\nA,passport,X2,s\n' >"$E2E_TMP/missing.csv"
out=$("$ADMIN" licence import --data-dir "$D" --csv "$E2E_TMP/missing.csv" --dept "$DEPT" --type DEMO01 2>&1); rc=$?
expect_eq "required field column missing: exit 2" "$rc" 2
expect_match "required field column missing: named" "$out" "column 'established' is missing"
printf 'holder_name,holder_id_type,holder_id_number,business_scope,established\nA,passport,X3,s,2020-01-01\n"B,passport,X4,s,2020-01-01\n' >"$E2E_TMP/unterminated.csv"
out=$("$ADMIN" licence import --data-dir "$D" --csv "$E2E_TMP/unterminated.csv" --dept "$DEPT" --type DEMO01 2>&1); rc=$?
expect_eq "unterminated quote: exit 2" "$rc" 2
expect_match "unterminated quote: line named" "$out" 'line 3: quoted field never closed'
printf 'holder_name,holder_id_type,holder_id_number,business_scope,established\n\xd5\xc5\xc8\xfd,passport,X5,s,2020-01-01\n' >"$E2E_TMP/gbk.csv"
out=$("$ADMIN" licence import --data-dir "$D" --csv "$E2E_TMP/gbk.csv" --dept "$DEPT" --type DEMO01 2>&1); rc=$?
expect_eq "not UTF-8 (GBK): exit 2" "$rc" 2
expect_match "not UTF-8: line named" "$out" 'line 2: not UTF-8'
out=$("$ADMIN" licence import --data-dir "$D" --csv "$E2E_TMP/unknown.csv" --dept "$DEPT" --type NOPE 2>&1); rc=$?
expect_eq "unknown type: exit 3" "$rc" 3
expect_eq "files refused up front import nothing" "$(count "$D")" "$n0"
check_fails "and leave no rejects file" test -e "$E2E_TMP/unknown.csv.rejects.csv"

# --- killed with SIGKILL mid-import, then run again ---------------------------
D2=$E2E_TMP/data2
"$ADMIN" init --demo --data-dir "$D2" >/dev/null 2>&1
DEPT2=$(jq -r .department "$D2/demo-tokens.json")
BIG=$E2E_TMP/big.csv
awk 'BEGIN { print "holder_name,holder_id_type,holder_id_number,business_scope,registered_capital,established";
	for (i = 1; i <= 2000; i++) printf "Holder %d,passport,P%08d,scope %d,%d,2021-02-03\n", i, i, i, i }' >"$BIG"
"$ADMIN" licence import --data-dir "$D2" --csv "$BIG" --dept "$DEPT2" --type DEMO01 >"$E2E_TMP/big.out" 2>&1 &
IPID=$!
E2E_PIDS+=("$IPID")
# Kill it once some rows are in (about a second in), not before.
for i in $(seq 1 300); do
	n=$(sqlite3 "$D2/certsvc.db" "SELECT count(*) FROM licences" 2>/dev/null || echo 0)
	[ "${n:-0}" -ge 100 ] && break
	kill -0 "$IPID" 2>/dev/null || break
	sleep 0.05
done
kill -9 "$IPID" 2>/dev/null
wait "$IPID" 2>/dev/null
rc=$?
expect_eq "import killed with SIGKILL" "$rc" 137
n=$(count "$D2")
if [ "$n" -gt 0 ] && [ "$n" -lt 2000 ]; then ok "killed mid-import ($n of 2000 done)"; else
	fail "killed mid-import" "$n licences when killed"; fi
out=$("$ADMIN" licence import --data-dir "$D2" --csv "$BIG" --dept "$DEPT2" --type DEMO01 --json 2>&1); rc=$?
expect_eq "rerun after the crash: exit 0" "$rc" 0
expect_eq "rerun: already imported = done before the crash" "$(printf '%s' "$out" | jq -r .already_imported)" "$n"
expect_eq "rerun: the rest issued" "$(printf '%s' "$out" | jq -r .issued)" "$((2000 - n))"
expect_eq "exactly 2000 licences" "$(count "$D2")" 2000
expect_eq "no duplicates (distinct ids = rows)" \
    "$(sqlite3 "$D2/certsvc.db" "SELECT count(DISTINCT id) FROM licences")" 2000
expect_eq "one licence per holder" \
    "$(sqlite3 "$D2/certsvc.db" "SELECT count(DISTINCT holder_ref) FROM licences")" 2000
expect_eq "one idempotency key per row" \
    "$(sqlite3 "$D2/certsvc.db" "SELECT count(*) FROM idempotency WHERE key LIKE 'import:%'")" 2000
check_fails "no temporary rejects file left" test -e "$BIG.rejects.csv.tmp"

# --- the token goes away mid-import: it stops, and a rerun completes ---------
FAULT_SO="$ROOT/$O/tests/p11fault.so"
CTL=$E2E_TMP/p11fault.ctl
: >"$CTL"
F=$E2E_TMP/fault.csv
awk 'BEGIN { print "holder_name,holder_id_type,holder_id_number,business_scope,established";
	for (i = 1; i <= 1500; i++) printf "F %d,passport,F%08d,scope %d,2021-02-03\n", i, i, i }' >"$F"
(export P11FAULT_MODULE=$MODULE P11FAULT_CONTROL=$CTL CERTSVC_MODULE=$FAULT_SO CERTSVC_TOKEN_TIMEOUT_MS=500
 exec "$ADMIN" licence import --data-dir "$D2" --csv "$F" --dept "$DEPT2" --type DEMO01 --json \
     >"$E2E_TMP/fault.out" 2>"$E2E_TMP/fault.err") &
IPID=$!
E2E_PIDS+=("$IPID")
for i in $(seq 1 300); do
	n=$(sqlite3 "$D2/certsvc.db" "SELECT count(*) FROM licences" 2>/dev/null || echo 0)
	[ "${n:-0}" -ge 2100 ] && break
	kill -0 "$IPID" 2>/dev/null || break
	sleep 0.05
done
sleep 0.05
echo "fail CKR_DEVICE_REMOVED 0" >"$CTL"
wait "$IPID"
rc=$?
expect_eq "token removed mid-import: exit 5" "$rc" 5
expect_match "it says how to go on" "$(cat "$E2E_TMP/fault.err")" 'stopped: .*run the same import again'
done1=$(jq -r .issued "$E2E_TMP/fault.out")
left=$(jq -r .not_processed "$E2E_TMP/fault.out")
expect_eq "summary: issued + not processed = rows" "$((done1 + left))" 1500
if [ "$left" -gt 0 ]; then ok "stopped before the end ($left rows left)"; else fail "stopped before the end"; fi
expect_eq "no row was rejected for the token's fault" "$(jq -r .rejected "$E2E_TMP/fault.out")" 0
sleep 0.05
echo "clear" >"$CTL"
out=$(P11FAULT_MODULE=$MODULE P11FAULT_CONTROL=$CTL CERTSVC_MODULE=$FAULT_SO \
    "$ADMIN" licence import --data-dir "$D2" --csv "$F" --dept "$DEPT2" --type DEMO01 --json 2>&1); rc=$?
expect_eq "token back, rerun: exit 0" "$rc" 0
expect_eq "rerun: the rest issued, the rest replayed" \
    "$(printf '%s' "$out" | jq -r '[.issued, .already_imported] | join(" ")')" "$left $done1"
expect_eq "exactly 3500 licences, no duplicates" \
    "$(sqlite3 "$D2/certsvc.db" "SELECT count(*) || ' ' || count(DISTINCT holder_ref) FROM licences")" "3500 3500"
e2e_summary
