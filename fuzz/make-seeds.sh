#!/usr/bin/env bash
# fuzz/make-seeds.sh: (re)make the seed corpora of fuzz/corpus/ and the
# fixed test PKI of fuzz/data/ (make fuzz-seeds).  The signed seeds
# (seals, envelopes, reports) and the PKI come from fuzz/seedgen.c; OCSP
# requests from `openssl ocsp -reqout` (an independent client); the rest
# is written here.  Seeds are small valid inputs plus a few near misses;
# the results are committed, so a run never depends on this script.
set -eu
O=${O:-build-fuzz}
cd "$(dirname "$0")/.."
F=fuzz
C=$F/corpus
[ -x "$O/fuzz/seedgen" ] || { echo "make-seeds: build $O/fuzz/seedgen first (make fuzz-seeds)"; exit 1; }
# Only the corpora made here: other targets keep their own seeds.
for t in jcs b64 codes csv cfg ocsp_der ocsp_get cms verify report \
    licence_req lifecycle objection ltype bearer audit_export; do
	rm -rf "${C:?}/$t"
done
rm -rf "$F/data"
mkdir -p "$F/data" "$C/cfg"
"$O/fuzz/seedgen" "$F"

# seed NAME/FILE: stdin into fuzz/corpus/NAME/FILE, without a final newline
# when the text has none.
seed() {
	mkdir -p "$C/$(dirname "$1")"
	cat >"$C/$1"
}
sq() { printf '%s' "$2" | seed "$1"; }

# --- OCSP: requests an independent client makes --------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl ocsp -issuer "$F/data/issuing.pem" -cert "$F/data/seal.pem" \
    -no_nonce -reqout "$C/ocsp_der/openssl-no-nonce.der" >/dev/null
openssl ocsp -issuer "$F/data/issuing.pem" -cert "$F/data/seal.pem" \
    -reqout "$C/ocsp_der/openssl-nonce.der" >/dev/null
openssl ocsp -issuer "$F/data/issuing.pem" -sha256 -cert "$F/data/seal.pem" \
    -no_nonce -reqout "$C/ocsp_der/openssl-sha256.der" >/dev/null
openssl ocsp -issuer "$F/data/root.pem" -cert "$F/data/issuing.pem" \
    -cert "$F/data/seal.pem" -reqout "$C/ocsp_der/openssl-two.der" \
    >/dev/null
# GET form: base64 of the DER, as sent and percent-encoded (RFC 6960 A.1).
mkdir -p "$C/ocsp_get"
for f in "$C"/ocsp_der/*.der; do
	b=$(basename "$f" .der)
	base64 -w0 "$f" | seed "ocsp_get/$b.txt"
	base64 -w0 "$f" | sed -e 's/+/%2B/g' -e 's|/|%2F|g' -e 's/=/%3D/g' |
	    seed "ocsp_get/$b-pct.txt"
done
sq ocsp_get/bad-escape.txt 'MEIwQDA%2'

# --- base64 ----------------------------------------------------------------
sq b64/empty-pad.txt 'AA=='
sq b64/two.txt 'AAE='
sq b64/text.txt 'Y2VydHN2YyBmdXp6IHNlZWQ='
head -c 300 "$F/data/document.json" | base64 -w0 | seed b64/document.txt
sq b64/bad-pad.txt 'AB=='
sq b64/url.txt 'a-_b'

# --- canonical JSON ------------------------------------------------------------
sq jcs/numbers.json '[0,-0,1e21,1e-7,123456789012345678,0.1,9007199254740991,-1.5e300,5e-324]'
sq jcs/strings.json '{"\u00e9":"\ud83d\ude00","a\u0000":1,"\u20ac":"\t\n\"\\\/","":[]}'
sq jcs/keys.json '{"b":1,"a":{"d":[true,false,null],"c":{}},"\ud800\udc00":2,"\uffff":3}'
sq jcs/deep.json '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]'
sq jcs/dup.json '{"a":1,"a":2}'

# --- credit codes, licence identifiers, type codes ---------------------------
sq codes/credit.txt '91110105MA0123453U'
sq codes/credit-bad.txt '91110105MA0123453V'
sq codes/type.txt 'TA01'
id=$(sed -nE 's/.*"id":"([^"]+)".*/\1/p' "$F/data/document.json" | head -1)
sq codes/licence-id.txt "$id"
sq codes/make-id.txt 'TA01|91110105MA0123453U|'
sq codes/make-long.txt 'ABCDEFGHIJKLMNOP|91110105MA0123453U|x'

# --- CSV import: byte 0 picks the piece sizes ----------------------------------
{ printf '\007'; cat <<'CSV'; } | seed csv/import.csv
holder_name,holder_id_type,holder_id_number,valid_from,seal,business_scope,registered_capital,established
张三,resident_id,110101199003070011,,,餐饮服务,500000,2020-06-01
"Li, Si",passport,E12345678,2025-01-01,,"零售,批发",1000000.5,2019-03-15
王五,resident_id,110101198501010022,,S-c85cf09b85c1c898,"line one
line two",,2021-12-31
CSV
printf '\001\357\273\277a,b\r\n"x""y",TRUE\r-12,1e5\n,\n' | seed csv/bom-crlf.csv
printf '\003a,"b\nc' | seed csv/unclosed.csv
printf '\005a,b"c\n' | seed csv/bad-quote.csv

# --- config --------------------------------------------------------------------
cp docs/certsvc.conf.example "$C/cfg/example.conf"
seed cfg/keys.conf <<'CONF'
# every kind of value
listen = "[::1]:8443"
public_url = https://certsvc.example.gov/
db_path = db/certsvc.db
token_label = "certsvc #2"
pool_size = 8
max_body = 1048576
log_level = debug
ca_country = CN
ca_org = "某市 \"数据局\""
CONF
sq cfg/pin.conf $'pin = 1234\n'

# --- request bodies --------------------------------------------------------------
seed licence_req/issue.json <<'JSON'
{"type":"TA01","holder":{"name":"张三","id_type":"resident_id","id_number":"110101199003070011"},"fields":{"scope":"预包装食品销售","capital":1.5,"staff":12,"chain":true,"since":"2020-02-29","owner_id":"X1"},"valid_from":"2026-01-01","valid_until":"2026-12-31","seal":"S-0123456789abcdef"}
JSON
sq licence_req/key-then-body.json $'import:0123456789abcdef:1\n{"type":"TA01"}'
sq licence_req/bad-date.json '{"type":"TA01","holder":{"name":"a","id_type":"passport","id_number":"E1"},"fields":{"scope":"x","since":"2021-02-29"},"valid_from":"2026-13-01"}'
sq licence_req/unknown.json '{"type":"TA01","holder":{"name":"a","id_type":"other","id_number":"1","extra":1},"fields":{}}'

# lifecycle: byte 0 picks the action (1 suspend ... 7 correct)
printf '\001{"reason":"检查期间暂扣"}' | seed lifecycle/suspend.json
printf '\003{"reason":"keyCompromise: 失窃","kind":"penalty"}' | seed lifecycle/revoke.json
printf '\005{"reason":"迁出","to":"某市 区"}' | seed lifecycle/transfer.json
printf '\006{"valid_until":"2030-12-31","valid_from":"2026-01-01"}' | seed lifecycle/renew.json
printf '\007{"reason":"更正","fields":{"scope":"x"},"holder":{"name":"李四"}}' | seed lifecycle/correct.json
printf '\002' | seed lifecycle/empty.json
printf '\000suspend' | seed lifecycle/action-name.txt

# objections: byte 0 even = file, odd = resolve
printf '\000{"licence_id":"%s","text":"姓名有误\\n应为张三"}' "$id" | seed objection/file.json
printf '\001{"outcome":"rejected","reason":"材料不符"}' | seed objection/reject.json
printf '\001{"outcome":"corrected","reason":"已更正","fields":{"scope":"x"},"holder":{"name":"张三"}}' | seed objection/correct.json

# licence types: definition, blank line, fields to check
seed ltype/type.json <<'JSON'
{"code":"JZ01","name":"建设工程规划许可证","departments":["91110105MA0123453U"],"validity_days":1825,"fields":[{"name":"project","type":"string","required":true,"max_length":200},{"name":"site_area","type":"number","required":true},{"name":"floors","type":"integer"},{"name":"public_use","type":"boolean"},{"name":"approved_on","type":"date","required":true},{"name":"owner_id","type":"string","sensitive":true,"max_length":64}]}

{"project":"No. 3 School","site_area":1250.5,"floors":4,"approved_on":"2024-02-29"}
JSON

# Authorization headers
sq bearer/token.txt 'Bearer cs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
sq bearer/lower.txt 'bearer   cs_abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFG'
sq bearer/basic.txt 'Basic dXNlcjpwYXNz'

# exported audit checkpoint
doc64=$(printf '{"format":"certsvc-checkpoint/1","head_hash":"%s","seq":42}' \
    "$(printf '%064d' 0 | tr 0 a)" | base64 -w0)
sq audit_export/export.json "{\"format\":\"certsvc-checkpoint-export/1\",\"seq\":42,\"document\":\"$doc64\",\"seal\":\"AAAA\"}"

echo "make-seeds: $(find "$C" -type f | wc -l) seeds in $C, PKI in $F/data"
