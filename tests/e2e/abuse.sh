#!/usr/bin/env bash
# HTTP abuse (issue #8): oversized bodies, headers and URLs, slow and silent
# clients, more connections than the limit, malformed request lines, wrong
# methods and content types, path traversal.  Each gets the right 4xx or a
# closed connection, and the daemon stays healthy throughout.  Raw requests
# go through python3 sockets so that nothing normalises them on the way.
source "$(dirname "$0")/lib.sh"

D=$E2E_TMP/data
"$ADMIN" init --demo --data-dir "$D" >/dev/null 2>&1 || { fail "init --demo"; e2e_summary; exit 1; }
T=$D/demo-tokens.json
ISSUER=$(jq -r .issuer "$T")
VERIFIER=$(jq -r .verifier "$T")
# Small limits so that the test is quick; certsvcd takes them from the
# config (environment overrides).
export CERTSVC_MAX_BODY=8192 CERTSVC_HTTP_CONN_TIMEOUT=2 CERTSVC_HTTP_CONN_LIMIT=32
LOG=$E2E_TMP/certsvcd.log
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT

# raw DATA [WAIT]: send DATA (Python escapes: \r\n, \x00) on a fresh
# connection, read until the server closes or WAIT seconds (default 5)
# pass; print the status code, "closed" (closed without an answer) or
# "open" (still open and silent at WAIT).
raw() {
	python3 - "$PORT" "$1" "${2:-5}" <<'PY'
import socket, sys, time
port, data, wait = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
data = data.encode('latin-1').decode('unicode_escape').encode('latin-1')
s = socket.create_connection(('127.0.0.1', port), timeout=wait)
try:
    s.sendall(data)
except OSError:
    pass
got = b''
end = time.monotonic() + wait
try:
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        b = s.recv(65536)
        if not b:
            break
        got += b
        if b'\r\n\r\n' in got:
            break
except socket.timeout:
    print('open' if not got else got.split(b' ')[1].decode())
    sys.exit(0)
except OSError:
    pass
print(got.split(b' ')[1].decode() if got.startswith(b'HTTP/') else 'closed')
PY
}
healthy() { [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$U/healthz")" = 200 ] && kill -0 "$PID"; }
# expect_in WHAT GOT ALLOWED...: GOT is one of ALLOWED.
expect_in() {
	local what=$1 got=$2 a
	shift 2
	for a in "$@"; do [ "$got" = "$a" ] && { ok "$what"; return; }; done
	fail "$what" "got '$got', want one of: $*"
}

# --- sizes ------------------------------------------------------------------
head -c 20000 /dev/zero | tr '\0' 'a' >"$E2E_TMP/big"
st=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/v1/verify" -H "Authorization: Bearer $VERIFIER" \
    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/big")
expect_eq "body over max_body: 413" "$st" 413
st=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/v1/verify" -H "Authorization: Bearer $VERIFIER" \
    -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$E2E_TMP/big")
expect_eq "chunked body over max_body: 413" "$st" 413
st=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/verify" \
    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/big")
expect_eq "public route, body over max_body: 413" "$st" 413
head -c 60000000 /dev/zero >"$E2E_TMP/huge"
st=$(curl -s -o /dev/null -m 30 -w '%{http_code}' -X POST "$U/verify" \
    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/huge")
expect_in "60 MB body: 413 or closed, not read into memory" "$st" 413 000
rm -f "$E2E_TMP/huge"
rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
if [ "$rss" -lt 200000 ]; then ok "RSS after the 60 MB body: ${rss} kB"; else fail "RSS after the 60 MB body: ${rss} kB"; fi
st=$(raw "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n\r\n{}")
expect_in "absurd Content-Length: 400/413 or closed" "$st" 400 413 closed
st=$(raw "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: $(head -c 100000 /dev/zero | tr '\0' 'b')\r\n\r\n")
expect_in "100 kB header: 431/413 or closed" "$st" 431 413 closed
hdrs=$(for i in $(seq 1 3000); do printf 'X-H%d: v\\r\\n' "$i"; done)
st=$(raw "GET /healthz HTTP/1.1\r\nHost: x\r\n${hdrs}\r\n")
expect_in "3000 headers: 431/413 or closed" "$st" 431 413 closed
st=$(raw "GET /$(head -c 100000 /dev/zero | tr '\0' 'u') HTTP/1.1\r\nHost: x\r\n\r\n")
expect_in "100 kB URL: 414/431/413 or closed" "$st" 414 431 413 closed
check "healthy after the size abuse" healthy

# --- malformed requests ---------------------------------------------------
expect_in "garbage request line: 400 or closed" "$(raw 'GARBAGE\r\n\r\n')" 400 closed
expect_in "request line without a URL: 400 or closed" "$(raw 'GET\r\n\r\n')" 400 closed
expect_in "unknown HTTP version: 505/400 or closed" "$(raw 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n')" 505 400 closed
expect_in "HTTP/1.1 without Host: 400" "$(raw 'GET /healthz HTTP/1.1\r\n\r\n')" 400
expect_in "header line without a colon: 400 or closed" "$(raw 'GET /healthz HTTP/1.1\r\nHost: x\r\nBROKEN\r\n\r\n')" 400 closed
expect_in "NUL in the request line: 400/404 or closed" "$(raw 'GET /heal\x00thz HTTP/1.1\r\nHost: x\r\n\r\n')" 400 404 closed
expect_in "invalid Content-Length: 400 or closed" \
    "$(raw 'POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}')" 400 413 closed
expect_in "bad chunk size: 400 or closed" \
    "$(raw 'POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n')" 400 closed
check "healthy after malformed requests" healthy

# --- methods and content types ------------------------------------------------
# allow_of METHOD PATH: "status|Allow header"
allow_of() {
	curl -s -o /dev/null -D - -X "$1" "$U$2" | tr -d '\r' |
	    awk 'NR == 1 { s = $2 } tolower($1) == "allow:" { sub(/^[^:]*: */, ""); a = $0 } END { print s "|" a }'
}
expect_eq "DELETE /healthz: 405, Allow: GET, HEAD" "$(allow_of DELETE /healthz)" "405|GET, HEAD"
expect_eq "GET /v1/codes/redeem: 405, Allow: POST" "$(allow_of GET /v1/codes/redeem)" "405|POST"
expect_eq "PUT /v1/licences: 405, Allow: POST" "$(allow_of PUT /v1/licences)" "405|POST"
expect_eq "DELETE /v1/licences/{id}: 405, Allow: GET, HEAD, POST" \
    "$(allow_of DELETE /v1/licences/DEMO01-x)" "405|GET, HEAD, POST"
expect_eq "PATCH /verify: 405, Allow: GET, HEAD, POST" "$(allow_of PATCH /verify)" "405|GET, HEAD, POST"
expect_eq "HEAD /healthz: 200" "$(curl -s -o /dev/null -I -w '%{http_code}' "$U/healthz")" 200
expect_in "unknown method FOO: 405/501/400" "$(raw 'FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n')" 405 501 400
expect_in "TRACE is not echoed: 405" "$(raw 'TRACE /healthz HTTP/1.1\r\nHost: x\r\n\r\n')" 405
ct() { # ct TOKEN PATH CONTENT-TYPE
	curl -s -o /dev/null -w '%{http_code}' -X POST "$U$2" -H "Authorization: Bearer $1" \
	    -H "Content-Type: $3" --data-binary '{"licence_id":"x"}'
}
expect_eq "text/plain to /v1/verify: 415" "$(ct "$VERIFIER" /v1/verify text/plain)" 415
expect_eq "form to /v1/licences: 415" "$(ct "$ISSUER" /v1/licences application/x-www-form-urlencoded)" 415
expect_eq "application/jsonx is not JSON: 415" "$(ct "$VERIFIER" /v1/verify application/jsonx)" 415
expect_eq "no Content-Type to /verify: 415" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/verify" -H 'Content-Type:' --data-binary '{}')" 415
expect_eq "JSON with charset is accepted past the type check" \
    "$(ct "$VERIFIER" /v1/verify 'application/json; charset=utf-8' | grep -c 415)" 0
b=$(curl -s -X POST "$U/v1/verify" -H "Authorization: Bearer $VERIFIER" -H 'Content-Type: application/json' \
    --data-binary '{"licence_id": "x",')
expect_match "truncated JSON: 400 in the error shape" "$b" '^\{"error":\{"code":"invalid","message":".+"\}\}$'
b=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/v1/verify" -H "Authorization: Bearer $VERIFIER" \
    -H 'Content-Type: application/json' --data-binary "$(printf '[%.0s' $(seq 1 5000))")
expect_eq "5000 nested arrays: 400" "$b" 400

# --- path traversal ----------------------------------------------------------
for p in '/static/../certsvc.conf' '/static/%2e%2e/certsvc.conf' '/static/..%2fcertsvc.db' \
    '/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd' '/static/verify.css/../../pin' '/static/.verify.css' \
    '/static/..%5cpin' '/static/verify.html' '/ca/../pin' '/ca/..%2fpin' '/crl/../pin' \
    '/static//etc/passwd'; do
	st=$(curl -s --path-as-is -o "$E2E_TMP/trav" -w '%{http_code}' "$U$p")
	if [ "$st" = 404 ] && ! grep -qE 'root:|BEGIN|^[0-9]+$' "$E2E_TMP/trav"; then ok "traversal $p: 404"; else
		fail "traversal $p: 404" "got $st: $(head -c 200 "$E2E_TMP/trav")"; fi
done
expect_eq "a real static file still served" \
    "$(curl -s -o /dev/null -w '%{http_code}' "$U/static/verify.css")" 200

# --- slow and silent clients ---------------------------------------------------
t0=$(date +%s%N)
st=$(raw "" 10)
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
expect_eq "silent client: closed by the server" "$st" closed
if [ "$ms" -ge 1500 ] && [ "$ms" -lt 6000 ]; then ok "silent client closed after ${ms} ms (timeout 2 s)"; else
	fail "silent client closed after ${ms} ms (timeout 2 s)"; fi
st=$(raw "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a" 10)
expect_eq "half a request, then nothing: closed" "$st" closed
# Slowloris: one byte every 1.5 s keeps a connection alive under an idle
# timeout; the limit below caps how many such clients can exist at once.
st=$(raw "POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{" 10)
expect_eq "body promised but not sent: closed" "$st" closed
check "healthy after slow clients" healthy

# --- more connections than the limit (32) --------------------------------------
# Beyond the limit certsvcd accepts no more (they wait in the kernel's
# backlog), so it never holds more than 32 client sockets at once.
base=$(find "/proc/$PID/fd" -lname 'socket:*' | wc -l)
res=$(python3 - "$PORT" "$PID" <<'PY'
import os, socket, sys, time, urllib.request
port, pid = int(sys.argv[1]), sys.argv[2]
def nsock():
    n = 0
    for f in os.listdir('/proc/%s/fd' % pid):
        try:
            n += os.readlink('/proc/%s/fd/%s' % (pid, f)).startswith('socket:')
        except OSError:
            pass
    return n
socks = [socket.create_connection(('127.0.0.1', port), timeout=2) for _ in range(80)]
most = 0
for _ in range(6):
    time.sleep(0.25)
    most = max(most, nsock())
for s in socks:
    s.close()
time.sleep(0.3)
code = urllib.request.urlopen('http://127.0.0.1:%d/healthz' % port, timeout=5).status
print(most, code)
PY
)
read -r most hcode <<<"$res"
held=$(( ${most:-999} - base ))
if [ "$held" -le 32 ] && [ "$held" -ge 16 ]; then ok "80 idle connections, limit 32: the daemon holds $held"; else
	fail "80 idle connections, limit 32: the daemon holds $held"; fi
expect_eq "served again once they are gone" "$hcode" 200

# --- and the daemon is fine ---------------------------------------------------
check "healthy at the end" healthy
expect_eq "ready at the end" "$(curl -s -o /dev/null -w '%{http_code}' "$U/readyz")" 200
stop_daemon; rc=$?
expect_eq "clean shutdown" "$rc" 0
e2e_summary
