#!/usr/bin/env bash
# Crash consistency (issue #8): background clients issue licences (each
# with its own Idempotency-Key, retried with the same key until answered),
# suspend and reinstate them, and create and redeem 免证办 codes, while
# certsvcd is killed with SIGKILL at random moments and restarted,
# CRASH_ROUNDS times (default 8; make soak runs 50).  After every kill,
# with the daemon down and the database as the crash left it:
#   - PRAGMA integrity_check is ok and certsvc-admin audit verify passes;
#   - every licence whose 201/200 a client received exists, under its key;
#   - no idempotency key and no identifier produced two licences;
#   - every status change a client saw answered is in the store;
#   - no code was redeemed beyond its limit, and every redemption a
#     client saw answered left its usage record;
# and after every restart certsvcd becomes ready again and the newly
# acknowledged licences verify (POST /v1/verify by id: "valid" exactly
# when the store says valid; a random CRASH_VERIFY of them, default 25,
# to keep rounds short: their existence is checked for all).
source "$(dirname "$0")/lib.sh"

ROUNDS=${CRASH_ROUNDS:-8}
D=$E2E_TMP/data
W=$E2E_TMP/w
mkdir -p "$W"
"$ADMIN" init --demo --data-dir "$D" >/dev/null 2>&1 || { fail "init --demo"; e2e_summary; exit 1; }
T=$D/demo-tokens.json
ISSUER=$(jq -r .issuer "$T")
VERIFIER=$(jq -r .verifier "$T")
jq -c .sample_licence_request "$T" >"$W/req.json"
DB=$D/certsvc.db
# Redemptions of used codes are failures; the rate limit must not hide
# the ones we want to see.
export CERTSVC_CODE_FAIL_LIMIT_CLIENT=1000000 CERTSVC_CODE_FAIL_LIMIT_ADDR=1000000
LOG=$E2E_TMP/certsvcd.log
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT
STOP=$W/stop
: >"$W/issued"
: >"$W/status"
: >"$W/redeem"

# restart: start certsvcd again on the same port; ready within 20 s
# (longer under CERTSVC_E2E_WRAP).
restart() {
	CERTSVC_LISTEN=127.0.0.1:$PORT "${E2E_WRAP[@]}" "$DAEMON" --config "$D/certsvc.conf" >>"$LOG" 2>&1 &
	PID=$!
	E2E_PIDS+=("$PID")
	for _ in $(seq 1 $((2 * E2E_START_TRIES))); do
		[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$U/readyz")" = 200 ] && return 0
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# --- the load ---------------------------------------------------------------
# Lines: "KEY STATUS ID HOLDER_TOKEN|-" once a key is answered 201 or 200.
issue_worker() {
	local w=$1 n=0 key res code
	while [ ! -f "$STOP" ]; do
		n=$((n + 1))
		key=crash-$w-$n
		while [ ! -f "$STOP" ]; do
			res=$(curl -s -m 10 -w '\n%{http_code}' -X POST "$U/v1/licences" \
			    -H "Authorization: Bearer $ISSUER" -H "Idempotency-Key: $key" \
			    -H 'Content-Type: application/json' --data-binary "@$W/req.json")
			code=${res##*$'\n'}
			if [ "$code" = 201 ] || [ "$code" = 200 ]; then
				printf '%s\n' "${res%$'\n'*}" |
				    jq -r --arg k "$key" --arg c "$code" '"\($k) \($c) \(.id) \(.holder_token // "-")"' \
				    >>"$W/issued"
				break
			fi
			sleep 0.05 # down or busy: the same key again
		done
	done
}
# Lines: "ID ACTION STATUS".
status_worker() {
	local id a code
	while [ ! -f "$STOP" ]; do
		id=$(grep '^crash-2-' "$W/issued" | shuf -n 1 | cut -d' ' -f3)
		[ -z "$id" ] && { sleep 0.1; continue; }
		for a in suspend reinstate; do
			if [ $a = suspend ]; then
				code=$(curl -s -o /dev/null -m 10 -w '%{http_code}' -X POST "$U/v1/licences/$id/$a" \
				    -H "Authorization: Bearer $ISSUER" -H 'Content-Type: application/json' \
				    --data-binary '{"reason":"crash test"}')
			else
				code=$(curl -s -o /dev/null -m 10 -w '%{http_code}' -X POST "$U/v1/licences/$id/$a" \
				    -H "Authorization: Bearer $ISSUER")
			fi
			echo "$id $a $code" >>"$W/status"
		done
	done
}
# Lines: "CODE_ID STATUS" per redemption attempt (codes allow 2 uses, 3 tries).
codes_worker() {
	local line id tok res code cid st
	while [ ! -f "$STOP" ]; do
		line=$(grep -v ' -$' "$W/issued" | shuf -n 1)
		id=$(printf '%s' "$line" | cut -d' ' -f3)
		tok=$(printf '%s' "$line" | cut -d' ' -f4)
		[ -z "$id" ] && { sleep 0.1; continue; }
		res=$(curl -s -m 10 -X POST "$U/v1/holder/codes" -H "Authorization: Bearer $tok" \
		    -H 'Content-Type: application/json' \
		    --data-binary "{\"licence_id\":\"$id\",\"purpose\":\"crash test\",\"max_uses\":2}")
		code=$(printf '%s' "$res" | jq -r '.code // empty' 2>/dev/null)
		cid=$(printf '%s' "$res" | jq -r '.id // empty' 2>/dev/null)
		[ -z "$code" ] && { sleep 0.1; continue; }
		for _ in 1 2 3; do
			st=$(curl -s -o /dev/null -m 10 -w '%{http_code}' -X POST "$U/v1/codes/redeem" \
			    -H "Authorization: Bearer $VERIFIER" -H 'Content-Type: application/json' \
			    --data-binary "{\"code\":\"$code\"}")
			echo "$cid $st" >>"$W/redeem"
		done
	done
}

codes_built=no
st=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/v1/codes/redeem" -H "Authorization: Bearer $VERIFIER" \
    -H 'Content-Type: application/json' --data-binary '{"code":"x"}')
[ "$st" != 501 ] && codes_built=yes
[ "$codes_built" = yes ] || echo "# codes not built yet (501): no redemptions in the load"
issue_worker 1 &
W1=$!
issue_worker 2 &
W2=$!
status_worker &
W3=$!
WORKERS=("$W1" "$W2" "$W3")
if [ "$codes_built" = yes ]; then
	codes_worker &
	WORKERS+=("$!")
fi

# --- the checks ---------------------------------------------------------------
# sql QUERY: against the database as the crash left it.
sql() { sqlite3 -cmd '.timeout 5000' "$DB" "$1"; }
# acked_sql: a temporary table "acked(key, id)" of answered issuances.
acked_sql() {
	echo "CREATE TEMP TABLE acked (key TEXT, id TEXT);"
	awk '{ printf "INSERT INTO acked VALUES (\x27%s\x27, \x27%s\x27);\n", $1, $3 }' "$W/issued"
}
check_store() { # check_store ROUND -> "" when consistent, else what is wrong
	local r=$1 bad="" v
	v=$(sql 'PRAGMA integrity_check')
	[ "$v" = ok ] || bad="$bad integrity_check:$v"
	v=$( (acked_sql; echo "SELECT count(*) FROM acked a LEFT JOIN idempotency i ON i.key = a.key AND i.licence_id = a.id
	    LEFT JOIN licences l ON l.id = a.id AND l.version = 1 WHERE i.key IS NULL OR l.id IS NULL;") |
	    sqlite3 -cmd '.timeout 5000' "$DB")
	[ "$v" = 0 ] || bad="$bad acknowledged-licences-missing:$v"
	v=$(cut -d' ' -f3 "$W/issued" | sort | uniq -d | wc -l)
	[ "$v" = 0 ] || bad="$bad one-id-for-two-keys:$v"
	v=$(sql "SELECT count(*) FROM (SELECT licence_id FROM idempotency GROUP BY licence_id HAVING count(*) > 1)")
	[ "$v" = 0 ] || bad="$bad licence-under-two-keys:$v"
	v=$(sql "SELECT count(*) FROM licences WHERE version = 1 AND id NOT IN (SELECT licence_id FROM idempotency)")
	[ "$v" = 0 ] || bad="$bad licence-without-its-key:$v"
	v=$(sql "SELECT count(*) FROM (SELECT id FROM licences GROUP BY id, version HAVING count(*) > 1)")
	[ "$v" = 0 ] || bad="$bad duplicate-id:$v"
	# The last answered action per licence decides its status (409: it
	# already was in that state).
	v=$( (echo "CREATE TEMP TABLE want (id TEXT PRIMARY KEY, status TEXT);"
	    awk '{ last[$1] = $2 " " $3 } END { for (id in last) print id, last[id] }' "$W/status" |
	    awk '$3 == 200 || $3 == 409 { printf "INSERT INTO want VALUES (\x27%s\x27, \x27%s\x27);\n",
	        $1, $2 == "suspend" ? "suspended" : "valid" }'
	    echo "SELECT w.id || ':' || w.status || ':' || coalesce(l.status, 'none') FROM want w
	        LEFT JOIN licences l ON l.id = w.id AND l.latest = 1 WHERE l.status IS NOT w.status;") |
	    sqlite3 -cmd '.timeout 5000' "$DB")
	[ -z "$v" ] || bad="$bad status-lost:$v"
	if [ "$codes_built" = yes ]; then
		v=$(sql "SELECT count(*) FROM pcodes WHERE uses > max_uses OR uses !=
		    (SELECT count(*) FROM usage_records u WHERE u.code_id = pcodes.id)")
		[ "$v" = 0 ] || bad="$bad code-uses-vs-records:$v"
		v=$( (echo "CREATE TEMP TABLE acks (id TEXT PRIMARY KEY, n INTEGER);"
		    awk '$2 == 200 { n[$1]++ } END { for (c in n)
		        printf "INSERT INTO acks VALUES (\x27%s\x27, %d);\n", c, n[c] }' "$W/redeem"
		    echo "SELECT a.id || ':acked=' || a.n || ':uses=' || coalesce(p.uses, 'none') FROM acks a
		        LEFT JOIN pcodes p ON p.id = a.id WHERE p.uses IS NULL OR p.uses < a.n;") |
		    sqlite3 -cmd '.timeout 5000' "$DB")
		[ -z "$v" ] || bad="$bad redemption-lost-or-over-limit:$v"
	fi
	v=$("$ADMIN" audit verify --data-dir "$D" 2>&1) || bad="$bad audit-verify:$(printf '%s' "$v" | tail -1)"
	printf '%s' "$bad"
}
# verify_new FROM [PREFIX]: POST /v1/verify licences acknowledged from line
# FROM (keys starting PREFIX).  Only the status worker changes a status,
# and only of worker 2's licences: others must be valid at any moment.
verify_new() {
	local from=$1 prefix=${2:-crash-1-} bad="" id res want got
	while read -r _ _ id _; do
		res=$(curl -s -m 10 -X POST "$U/v1/verify" -H "Authorization: Bearer $VERIFIER" \
		    -H 'Content-Type: application/json' --data-binary "{\"licence_id\":\"$id\"}")
		got=$(printf '%s' "$res" | jq -r .result 2>/dev/null)
		want=$(sql "SELECT status FROM licences WHERE id = '$id' AND latest = 1")
		if [ "$want" = valid ]; then
			[ "$got" = valid ] || bad="$bad $id:$got:$(printf '%s' "$res" |
			    jq -c '[.checks[]? | select(.result != "ok" and .result != "valid")]' 2>/dev/null)"
		else
			[ "$got" != valid ] && [ -n "$got" ] || bad="$bad $id:$want:$got"
		fi
	done < <(tail -n +"$from" "$W/issued" | grep "^$prefix" | shuf -n "${CRASH_VERIFY:-25}")
	printf '%s' "$bad"
}

# --- kill, check, restart -----------------------------------------------------
failures=0 verified=1 restarts=0
for r in $(seq 1 "$ROUNDS"); do
	sleep "0.$((RANDOM % 9 + 2))$((RANDOM % 10))" # 0.2 .. 1.09 s of load
	[ "$((RANDOM % 3))" = 0 ] && sleep 0.7
	kill -KILL "$PID"
	wait "$PID" 2>/dev/null
	sleep 0.5 # answers received before the kill are written down
	bad=$(check_store "$r")
	if [ -n "$bad" ]; then
		failures=$((failures + 1))
		fail "round $r: the store is consistent after SIGKILL" "$bad"
	fi
	if ! restart; then
		fail "round $r: certsvcd ready again after SIGKILL" "$(tail -5 "$LOG")"
		break
	fi
	restarts=$((restarts + 1))
	n=$(wc -l <"$W/issued")
	bad=$(verify_new "$verified")
	verified=$((n + 1))
	if [ -n "$bad" ]; then
		failures=$((failures + 1))
		fail "round $r: acknowledged licences verify" "$bad"
	fi
done
touch "$STOP"
for p in "${WORKERS[@]}"; do wait "$p" 2>/dev/null; done

nissued=$(wc -l <"$W/issued")
nreplayed=$(awk '$2 == 200' "$W/issued" | wc -l)
nstatus=$(awk '$3 == 200' "$W/status" | wc -l)
nredeem=$(awk '$2 == 200' "$W/redeem" | wc -l)
echo "# $ROUNDS kills: $nissued issuances answered ($nreplayed replays of a key" \
    "whose first answer was lost), $nstatus status changes, $nredeem redemptions"
expect_eq "certsvcd restarted after every kill" "$restarts" "$ROUNDS"
expect_eq "store consistent and licences verifying after all $ROUNDS kills" "$failures" 0
if [ "$nissued" -ge "$ROUNDS" ]; then ok "the load went on between kills ($nissued licences)"; else
	fail "the load went on between kills ($nissued licences)"; fi
if [ "$nstatus" -gt 0 ]; then ok "status changes were made ($nstatus)"; else fail "status changes were made"; fi
if [ "$codes_built" = yes ]; then
	if [ "$nredeem" -gt 0 ]; then ok "codes were redeemed ($nredeem)"; else fail "codes were redeemed"; fi
fi
bad=$(check_store final)
expect_eq "final state consistent" "$bad" ""
expect_eq "status-changed licences verify as the store says (load stopped)" \
    "$(verify_new 1 crash-2-)" ""
stop_daemon
e2e_summary
