#!/usr/bin/env bash
# The verification page (issue #6): GET /verify and its static files with
# their headers, path traversal refused, the public POST /verify, and the
# page itself in Debian's chromium driven by playwright-core
# (tests/web/verify_page.mjs): a valid and a tampered envelope, Chinese and
# English, a verifier token, a 免证办 code typed in and one "scanned",
# screenshots into $O/test-output/; then web_dir from the configuration, and
# the per-address limit of POST /verify (web_verify_limit_addr: 429 with
# Retry-After, POST /v1/verify not counted).
source "$(dirname "$0")/lib.sh"

SHOTS=$ROOT/$O/test-output
mkdir -p "$SHOTS"
D=$E2E_TMP/data
out=$("$ADMIN" init --demo --data-dir "$D" 2>&1); rc=$?
expect_eq "init --demo exits 0" "$rc" 0
T=$D/demo-tokens.json
ISSUER=$(jq -r .issuer "$T"); VERIFIER=$(jq -r .verifier "$T")
jq -c .sample_licence_request "$T" >"$E2E_TMP/req.json"

LOG=$E2E_TMP/certsvcd.log
if ! start_daemon "$D" "$LOG"; then fail "certsvcd starts" "$(cat "$LOG")"; e2e_summary; exit 1; fi
U=http://127.0.0.1:$PORT

# post PATH FILE -> body, then the status on its own line
post() {
	curl -s -w '\n%{http_code}' -X POST "$U$1" -H 'Content-Type: application/json' \
	    --data-binary "@$2"
}
body() { sed '$d'; }
status() { tail -n1; }
# code URL -> the status of a GET, the path sent as it is
code() { curl -s --path-as-is -o /dev/null -w '%{http_code}' "$U$1"; }

res=$(curl -s -X POST "$U/v1/licences" -H "Authorization: Bearer $ISSUER" \
    -H 'Idempotency-Key: web-1' -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/req.json")
ISSUED=$res
ID=$(printf '%s' "$res" | jq -r .id)
expect_match "a licence is issued" "$ID" '^DEMO01-'
if ! [[ $ID =~ ^DEMO01- ]]; then
	fail "nothing to verify without a licence" "$res"
	e2e_summary
	exit 1
fi
printf '%s' "$res" | jq .envelope >"$E2E_TMP/licence.json"
printf '%s' "$res" | jq -c '{envelope: .envelope}' >"$E2E_TMP/v-env.json"
# One byte of the document changed: a digit of valid_until.
jq '.document |= (@base64d | sub("\"valid_until\":\"20"; "\"valid_until\":\"21") | @base64)' \
    "$E2E_TMP/licence.json" >"$E2E_TMP/tampered.json"
jq -r .document "$E2E_TMP/licence.json" | base64 -d >"$E2E_TMP/doc"
jq -r .document "$E2E_TMP/tampered.json" | base64 -d >"$E2E_TMP/doc-t"
expect_eq "the tampered document differs in exactly one byte" \
    "$(cmp -l "$E2E_TMP/doc" "$E2E_TMP/doc-t" | wc -l)" 1
printf 'not json\n' >"$E2E_TMP/notjson.json"

# The refresher certifies the report key within about a second of start;
# wait_report_key asks POST /v1/verify, which POST /verify's per-address
# limit does not count.
wait_report_key() {
	local c
	for _ in $(seq 1 50); do
		c=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/v1/verify" \
		    -H "Authorization: Bearer $VERIFIER" -H 'Content-Type: application/json' \
		    --data-binary "@$E2E_TMP/v-env.json")
		[ "$c" != 503 ] && break
		sleep 0.1
	done
}
wait_report_key

# --- serving ------------------------------------------------------------------
H=$(curl -s -D - -o "$E2E_TMP/page.html" "$U/verify")
expect_match "GET /verify: 200" "$H" '^HTTP/1.1 200'
expect_match "GET /verify: text/html; charset=utf-8" "$H" 'Content-Type: text/html; charset=utf-8'
expect_match "GET /verify: a strict CSP" "$H" "Content-Security-Policy: default-src 'self'; script-src 'self';"
expect_match "GET /verify: nosniff" "$H" 'X-Content-Type-Options: nosniff'
expect_match "GET /verify: Cache-Control" "$H" 'Cache-Control: no-cache'
expect_match "GET /verify: framing refused" "$H" "frame-ancestors 'none'"
expect_eq "GET /verify: the file of web/" "$(cmp -s "$E2E_TMP/page.html" "$ROOT/web/verify.html" && echo same)" same
if grep -qiE '<script>|<script[^>]*>[^<]|on(click|load|error)=|style=' "$E2E_TMP/page.html"; then
	fail "the page has no inline script or style"
else
	ok "the page has no inline script or style"
fi
if grep -qE '(src|href)="(https?:)?//' "$E2E_TMP/page.html"; then
	fail "the page loads nothing from elsewhere"
else
	ok "the page loads nothing from elsewhere"
fi
expect_eq "HEAD /verify: 200" "$(curl -s -I -o /dev/null -w '%{http_code}' "$U/verify")" 200
H=$(curl -s -D - -o /dev/null "$U/static/verify.js")
expect_match "GET /static/verify.js: text/javascript" "$H" 'Content-Type: text/javascript; charset=utf-8'
H=$(curl -s -D - -o /dev/null "$U/static/verify.css")
expect_match "GET /static/verify.css: text/css" "$H" 'Content-Type: text/css; charset=utf-8'
expect_match "GET /static/verify.css: cacheable" "$H" 'Cache-Control: public, max-age='
for p in /static/../certsvc.conf /static/%2e%2e/certsvc.conf /static/..%2fcertsvc.conf \
    /static/%2e%2e%2f%2e%2e%2fetc%2fpasswd /static//etc/passwd /static/verify.html \
    /static/missing.css /static/Verify.css /static/verify.css.bak /static/.css /static/; do
	expect_eq "GET $p: 404" "$(code "$p")" 404
done
# A file of an allowed type outside web/: reachable only by traversal.
printf 'body{}\n' >"$E2E_TMP/secret.css"
up=$(printf '%s' "$ROOT/web" | sed -E 's|/[^/]+|../|g')
rel=$up${E2E_TMP#/}/secret.css
expect_eq "GET /static/$rel: 404" "$(code "/static/$rel")" 404
expect_eq "GET /static/<the same, %2f-encoded>: 404" "$(code "/static/${rel//\//%2f}")" 404
if [ -f "$ROOT/web/$rel" ]; then ok "... while the path does name the file"; else
	fail "... while the path does name the file" "$ROOT/web/$rel"; fi
b=$(curl -s --path-as-is "$U/static/%2e%2e/certsvc.conf")
expect_eq "a traversal attempt gets a JSON error" "$(printf '%s' "$b" | jq -r .error.code)" not_found
expect_eq "PUT /verify: 405" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$U/verify")" 405

# --- the public POST /verify ----------------------------------------------------
res=$(post /verify "$E2E_TMP/v-env.json")
expect_eq "POST /verify (envelope): 200" "$(printf '%s' "$res" | status)" 200
printf '%s' "$res" | body >"$E2E_TMP/public.json"
expect_eq "POST /verify: valid" "$(jq -r .result "$E2E_TMP/public.json")" valid
# timestamp: pass once seals carry one (issue #7), else not_applicable.
expect_match "POST /verify: the checks of /v1/verify" \
    "$(jq -r '[.checks[] | .name + "=" + .result] | join(",")' "$E2E_TMP/public.json")" \
    '^document_format=pass,seal_signature=pass,certificate_chain=pass,certificate_status=pass,licence_status=pass,validity_period=pass,timestamp=(pass|not_applicable)$'
expect_eq "POST /verify: names the licence" "$(jq -r .licence_id "$E2E_TMP/public.json")" "$ID"
jq -r .report.document "$E2E_TMP/public.json" | base64 -d >"$E2E_TMP/report.json"
jq -r .report.seal "$E2E_TMP/public.json" | base64 -d >"$E2E_TMP/report.p7s"
expect_eq "POST /verify: the report names the public verifier" "$(jq -r .verifier "$E2E_TMP/report.json")" public
check "POST /verify: openssl cms -verify accepts the report" openssl cms -verify -binary \
    -inform DER -in "$E2E_TMP/report.p7s" -content "$E2E_TMP/report.json" \
    -CAfile "$D/ca/root.pem" -out /dev/null
jq -c '{document: .envelope.document, seal: .envelope.seal}' "$E2E_TMP/v-env.json" >"$E2E_TMP/v-pair.json"
res=$(post /verify "$E2E_TMP/v-pair.json")
expect_eq "POST /verify (document, seal): valid" "$(printf '%s' "$res" | body | jq -r .result)" valid
jq -c '{envelope: .}' "$E2E_TMP/tampered.json" >"$E2E_TMP/v-tampered.json"
res=$(post /verify "$E2E_TMP/v-tampered.json")
expect_eq "POST /verify (tampered): 200 invalid" \
    "$(printf '%s' "$res" | status) $(printf '%s' "$res" | body | jq -r .result)" "200 invalid"
jq -nc --arg id "$ID" '{licence_id: $id}' >"$E2E_TMP/v-id.json"
res=$(post /verify "$E2E_TMP/v-id.json")
expect_eq "POST /verify (licence_id): 400" "$(printf '%s' "$res" | status)" 400
expect_match "POST /verify (licence_id): says why" "$(printf '%s' "$res" | body | jq -r .error.message)" '^licence_id: '
jq -c --arg id "$ID" '. + {licence_id: $id}' "$E2E_TMP/v-env.json" >"$E2E_TMP/v-both.json"
expect_eq "POST /verify (envelope + licence_id): 400" "$(post /verify "$E2E_TMP/v-both.json" | status)" 400
printf '{"envelope": 1}' >"$E2E_TMP/v-bad.json"
expect_eq "POST /verify (malformed): 400" "$(post /verify "$E2E_TMP/v-bad.json" | status)" 400
expect_eq "POST /verify (not JSON): 415 without the JSON type" \
    "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/verify" --data-binary "@$E2E_TMP/v-env.json")" 415

m=$(curl -s "$U/metrics" | grep -E '^certsvc_http_requests_total\{route="(POST )?/verify"')
expect_match "metrics: POST /verify counted on its own" "$m" 'route="POST /verify",code="400"'
expect_eq "metrics: no series twice" "$(printf '%s\n' "$m" | sed 's/ [0-9]*$//' | sort | uniq -d)" ""

# --- in the browser -----------------------------------------------------------------
WEB=$ROOT/tests/web
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if ! command -v node >/dev/null || [ ! -x "$CHROMIUM" ]; then
	fail "node and chromium are installed (scripts/deps.sh)"
	e2e_summary
	exit 1
fi
if [ ! -d "$WEB/node_modules/playwright-core" ]; then
	if ! out=$(cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error 2>&1); then
		fail "npm ci in tests/web" "$out"
		e2e_summary
		exit 1
	fi
fi

# A 免证办 code for the page to redeem, typed in its short form; once used
# it is the code that must then be refused.
HOLDER=$(printf '%s' "$ISSUED" | jq -r '.holder_token // empty')
jq -nc --arg id "$ID" '{licence_id: $id, purpose: "web page test"}' >"$E2E_TMP/code-req.json"
res=$(curl -s -w '\n%{http_code}' -X POST "$U/v1/holder/codes" -H "Authorization: Bearer $HOLDER" \
    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/code-req.json")
CODE=$(printf '%s' "$res" | body | jq -r '.short_code // empty')
expect_eq "a holder makes a code for the page" "$(printf '%s' "$res" | status)" 201
expect_match "the short form is typed as XXXX-XXXX-XXX" "$CODE" '^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{3}$'
BADCODE=$CODE
# A second code for the QR scanner, which reads the long form.
res=$(curl -s -X POST "$U/v1/holder/codes" -H "Authorization: Bearer $HOLDER" \
    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/code-req.json")
QRCODE=$(printf '%s' "$res" | jq -r '.code // empty')
expect_match "... and one more, its long form for a QR code" "$QRCODE" '^[A-Za-z0-9_-]{43}$'

rm -f "$SHOTS"/verify-*.png
out=$(cd "$WEB" && BASE=$U VALID=$E2E_TMP/licence.json TAMPERED=$E2E_TMP/tampered.json \
    NOTJSON=$E2E_TMP/notjson.json LICENCE=$ID VERIFIER=$VERIFIER SHOTS=$SHOTS \
    CHROMIUM=$CHROMIUM CODE=$CODE BADCODE=$BADCODE QRCODE=$QRCODE timeout 120 node verify_page.mjs 2>&1)
rc=$?
n=0
while IFS=$'\t' read -r verdict what detail; do
	case $verdict in
	PASS) ok "browser: $what"; n=$((n + 1)) ;;
	FAIL) fail "browser: $what" "$detail"; n=$((n + 1)) ;;
	esac
done <<<"$out"
if [ "$rc" -ne 0 ] || [ "$n" -lt 30 ]; then
	fail "browser: the test ran to its end (exit $rc, $n checks)" "$out"
fi
for f in verify-valid verify-tampered verify-tampered-zh verify-desktop-zh; do
	if [ -s "$SHOTS/$f.png" ] && [ "$(head -c 8 "$SHOTS/$f.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; then
		ok "screenshot $O/test-output/$f.png"
	else
		fail "screenshot $O/test-output/$f.png"
	fi
done

stopped() {
	stop_daemon; rc=$?
	expect_eq "certsvcd stops cleanly" "$rc" 0
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' "$LOG"; then
		fail "no sanitizer reports" "$(grep -E -A20 'Sanitizer|runtime error' "$LOG")"
	fi
}
stopped

# --- web_dir (here from the environment, CERTSVC_WEB_DIR) wins over the build's --
mkdir -p "$E2E_TMP/web"
sed 's|<title>|<title>local copy |' "$ROOT/web/verify.html" >"$E2E_TMP/web/verify.html"
LOG=$E2E_TMP/certsvcd-2.log
if CERTSVC_WEB_DIR=$E2E_TMP/web start_daemon "$D" "$LOG"; then
	U=http://127.0.0.1:$PORT
	expect_match "web_dir: GET /verify serves its verify.html" "$(curl -s "$U/verify")" '<title>local copy '
	expect_eq "web_dir: a file it lacks is 404" "$(code /static/verify.css)" 404
	stopped
else
	fail "certsvcd starts with web_dir" "$(cat "$LOG")"
fi
LOG=$E2E_TMP/certsvcd-3.log
if CERTSVC_WEB_DIR=$E2E_TMP/nowhere start_daemon "$D" "$LOG"; then
	U=http://127.0.0.1:$PORT
	b=$(curl -s -w '\n%{http_code}' "$U/verify")
	expect_eq "web_dir missing: GET /verify is a JSON 404" \
	    "$(printf '%s' "$b" | status) $(printf '%s' "$b" | body | jq -r .error.code)" "404 not_found"
	stopped
else
	fail "certsvcd starts with a missing web_dir" "$(cat "$LOG")"
fi

# --- POST /verify per source address: web_verify_limit_addr ---------------------
expect_match "the default limit is in the config" "$(grep -E '^web_verify_' "$D/certsvc.conf" | tr '\n' ' ')" \
    '^web_verify_limit_addr = 60 web_verify_window_seconds = 60 $'
sed -i 's/^web_verify_limit_addr = .*/web_verify_limit_addr = 5/' "$D/certsvc.conf"
LOG=$E2E_TMP/certsvcd-4.log
if start_daemon "$D" "$LOG"; then
	U=http://127.0.0.1:$PORT
	wait_report_key
	got=
	for _ in 1 2 3 4; do got+="$(post /verify "$E2E_TMP/v-env.json" | status) "; done
	got+="$(post /verify "$E2E_TMP/v-bad.json" | status)"
	expect_eq "limit 5: five requests answered as usual (a 400 counts too)" "$got" "200 200 200 200 400"
	H=$(curl -s -D - -o "$E2E_TMP/limited.json" -X POST "$U/verify" \
	    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/v-env.json")
	expect_match "the sixth: 429" "$H" '^HTTP/1.1 429'
	wait=$(printf '%s' "$H" | sed -nE 's/^Retry-After: ([0-9]+)\r?$/\1/p')
	if [ -n "$wait" ] && [ "$wait" -ge 1 ] && [ "$wait" -le 60 ]; then
		ok "the sixth: Retry-After within the 60 s window ($wait)"
	else
		fail "the sixth: Retry-After within the 60 s window" "$H"
	fi
	expect_eq "the sixth: the JSON error body" \
	    "$(jq -r '.error.code + " " + (.error.message | test("^[a-z]") | tostring)' "$E2E_TMP/limited.json")" \
	    "rate_limited true"
	expect_eq "... whatever it sends (not JSON: 429, not 415)" \
	    "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$U/verify" --data-binary x)" 429
	res=$(curl -s -w '\n%{http_code}' -X POST "$U/v1/verify" -H "Authorization: Bearer $VERIFIER" \
	    -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/v-env.json")
	expect_eq "POST /v1/verify with a token: not limited (200 valid)" \
	    "$(printf '%s' "$res" | status) $(printf '%s' "$res" | body | jq -r .result)" "200 valid"
	expect_eq "GET /verify, the page: not limited" "$(code /verify)" 200
	expect_match "metrics: the 429 counted under POST /verify" "$(curl -s "$U/metrics")" \
	    'certsvc_http_requests_total\{route="POST /verify",code="429"\} 2'
	stopped
else
	fail "certsvcd starts with web_verify_limit_addr = 5" "$(cat "$LOG")"
fi
# 0: no limit.
sed -i 's/^web_verify_limit_addr = .*/web_verify_limit_addr = 0/' "$D/certsvc.conf"
LOG=$E2E_TMP/certsvcd-5.log
if start_daemon "$D" "$LOG"; then
	U=http://127.0.0.1:$PORT
	got=
	for _ in $(seq 1 8); do got+="$(post /verify "$E2E_TMP/v-bad.json" | status) "; done
	expect_eq "limit 0: no limit (eight requests, no 429)" "$got" "400 400 400 400 400 400 400 400 "
	stopped
else
	fail "certsvcd starts with web_verify_limit_addr = 0" "$(cat "$LOG")"
fi
e2e_summary
