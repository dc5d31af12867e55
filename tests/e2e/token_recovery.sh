#!/usr/bin/env bash
# The token goes away under a running certsvcd and comes back: /readyz turns
# 503 quickly (no request hangs), then 200 again without a restart.  The
# daemon runs on the fault-injecting module (tests/p11fault) in front of
# SoftHSM2, steered through its control file.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
FAULT_SO="$ROOT/$O/tests/p11fault.so"
CTL=$E2E_TMP/p11fault.ctl
"$ADMIN" init --data-dir "$D" >/dev/null 2>&1 || { fail "init"; e2e_summary; exit 1; }
check "fault module built" test -f "$FAULT_SO"
: >"$CTL"
export P11FAULT_MODULE=$MODULE P11FAULT_CONTROL=$CTL
export CERTSVC_MODULE=$FAULT_SO CERTSVC_TOKEN_TIMEOUT_MS=500
LOG=$E2E_TMP/certsvcd.log
if ! start_daemon "$D" "$LOG"; then
	fail "certsvcd starts on the fault module" "$(cat "$LOG")"
	e2e_summary; exit 1
fi
U=http://127.0.0.1:$PORT
expect_eq "ready before the fault" "$(curl -s -o /dev/null -w '%{http_code}' $U/readyz)" 200

# Control-file changes are noticed by mtime; make sure it moves.
sleep 0.05
echo "fail CKR_DEVICE_REMOVED 0" >"$CTL"
sleep 0.1
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -m 10 -w '%{http_code}' $U/readyz)
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
expect_eq "token removed: /readyz 503" "$code" 503
if [ "$ms" -lt 2000 ]; then ok "token removed: /readyz answers in ${ms} ms (< 2000)"; else
	fail "token removed: /readyz answers in ${ms} ms (< 2000)"; fi
body=$(curl -s $U/readyz)
expect_match "readyz names the token" "$body" '"token":"unavailable"'
expect_eq "healthz still 200 while the token is away" \
    "$(curl -s -o /dev/null -w '%{http_code}' $U/healthz)" 200

sleep 0.05
echo "clear" >"$CTL"
back=no
for _ in $(seq 1 40); do
	if [ "$(curl -s -o /dev/null -w '%{http_code}' $U/readyz)" = 200 ]; then back=yes; break; fi
	sleep 0.05
done
expect_eq "token back: /readyz 200 within 2 s, same process" "$back" yes
check "daemon still the same process" kill -0 "$PID"

# Every session closed behind our back: the next check-out re-opens and logs
# in again transparently, so readiness never drops, and metrics count it.
sleep 0.05
echo "invalidate" >"$CTL"
sleep 0.1
codes=""
for _ in 1 2 3 4 5 6; do codes="$codes$(curl -s -o /dev/null -w '%{http_code}' $U/readyz) "; done
expect_eq "sessions invalidated: /readyz stays 200" "$codes" "200 200 200 200 200 200 "
m=$(curl -s $U/metrics)
expect_match "metrics count recoveries" "$m" 'certsvc_token_recoveries_total [1-9]'
stop_daemon; rc=$?
expect_eq "clean shutdown after recovery" "$rc" 0
e2e_summary
