# bench/lib.sh: what the bench/*.sh HTTP benchmarks share (sourced).
# Before sourcing, set NAME (the script's name, for messages and the temp
# dir).  It provides:
#   log MSG...                    message on stderr
#   bench_tools TOOL...           install missing Debian packages (root)
#   TMP, PIDS, cleanup            a temp dir and the processes to stop on exit
#   certsvcd_start DATA_DIR       certsvcd on a free port: CPID, URL
#   val FILE NAME                 a "bench NAME value" line of req.lua/http_point
#   rate FILE                     expected answers per second of a wrk run
#   wrk_run URL CONNS SECONDS OUTFILE REQ_ARGS...
#   http_point PID URL CONNS OUTFILE REQ_ARGS...   (median of BENCH_REPEAT runs)
#   bare_start SIZE [STATUS] / bare_stop   bench/mhd_bare: BPID, BPORT
# REQ_ARGS are bench/req.lua's: METHOD PATH BODY TOKEN CTYPE EXPECT PREFIX.
# HTTP_THREADS (default: 4 per online core, certsvcd's) is the thread pool of
# certsvcd and of
# mhd_bare, which must be run in certsvcd's threading mode.

O=${O:-build}
OUT=${OUT:-bench/out}
HTTP_THREADS=${HTTP_THREADS:-$((4 * $(nproc)))} # certsvcd's default pool
WARMUP=${BENCH_WARMUP:-2}
TCK=$(getconf CLK_TCK)
mkdir -p "$OUT"

log() { echo "$NAME: $*" >&2; }

bench_tools() {
	local missing=() tool
	for tool in "$@"; do
		if [ "$tool" = time ]; then
			[ -x /usr/bin/time ] || missing+=(time)
		else
			command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		log "missing ${missing[*]}; run as root or: apt-get install ${missing[*]}"
		exit 1
	fi
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

TMP=$(mktemp -d "/tmp/certsvc-bench-$NAME.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

certsvcd_start() {
	CERTSVC_LISTEN=127.0.0.1:0 "$O/certsvcd" --config "$1/certsvc.conf" \
	    >"$TMP/certsvcd.log" 2>&1 &
	CPID=$!
	PIDS+=("$CPID")
	local port= _
	for _ in $(seq 1 100); do
		port=$(sed -nE 's/.*listening on .*\(port ([0-9]+)\).*/\1/p' "$TMP/certsvcd.log" | head -1)
		[ -n "$port" ] && break
		kill -0 "$CPID" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		log "certsvcd did not start:"
		cat "$TMP/certsvcd.log" >&2
		exit 1
	fi
	URL=http://127.0.0.1:$port
}

val() { awk -v k="$2" '$1 == "bench" && $2 == k { print $3 }' "$1"; }
rate() { awk '$1 == "bench" { v[$2] = $3 } END {
	printf "%.1f", (v["requests"] - v["unexpected"]) / (v["duration_us"] / 1e6) }' "$1"; }

# thread_ticks PID: "tid ticks" (user + system) of each thread, sorted
thread_ticks() {
	local t
	for t in /proc/"$1"/task/*; do
		echo "${t##*/} $(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null || echo 0)"
	done | sort
}
# machine_ticks: idle and total ticks of the machine, from /proc/stat
machine_ticks() { awk '$1 == "cpu" { t = 0; for (i = 2; i <= NF; i++) t += $i
	print $5 + $6, t }' /proc/stat; }

# wrk_run URL CONNS SECONDS OUTFILE REQ_ARGS...: its own CPU time goes into
# the output as "bench wrk_cpu_s N".  WRK_SCRIPT (default bench/req.lua)
# is the wrk script, e.g. bench/redeem.lua.
wrk_run() {
	local url=$1 c=$2 s=$3 out=$4
	shift 4
	local threads=$((c < 2 ? c : 2))
	/usr/bin/time -f 'bench wrk_cpu_s %U %S' -a -o "$out.time" \
	    wrk -t"$threads" -c"$c" -d"$s"s --latency --timeout 10s -s "${WRK_SCRIPT:-bench/req.lua}" \
	    "$url" -- "$@" >"$out" 2>&1
	awk '$2 == "wrk_cpu_s" { print "bench wrk_cpu_s", $3 + $4 }' "$out.time" >>"$out"
	rm -f "$out.time"
}

# http_one PID URL CONNS OUTFILE REQ_ARGS...: warm up, then one measured
# wrk run, with the server's CPU per request, how evenly its threads shared
# the work and how busy the rest of the machine was.  MHD keeps a
# connection on the pool thread that accepted it, so a run whose
# connections all landed on one thread measures that placement, not the
# handler; with several threads to fill it is run again with new
# connections (BENCH_RETRIES, default 2) and the attempts are recorded.
# REQ_ARGS' PREFIX, unless "-", gets the attempt number appended (warm-up
# runs "w" prepended), so that idempotency keys never repeat.
http_one() {
	local pid=$1 url=$2 c=$3 out=$4 attempt=0 idle0 all0 idle1 all1
	shift 4
	local args=("$@") par=$((c < HTTP_THREADS ? c : HTTP_THREADS))
	local prefix=${args[6]}
	while :; do
		attempt=$((attempt + 1))
		sync
		[ "$prefix" != - ] && args[6]="w$prefix$attempt"
		wrk_run "$url" "$c" "$WARMUP" "$TMP/warm.txt" "${args[@]}"
		[ "$prefix" != - ] && args[6]="$prefix$attempt"
		thread_ticks "$pid" >"$TMP/ticks0"
		read -r idle0 all0 < <(machine_ticks)
		wrk_run "$url" "$c" "$DURATION" "$out" "${args[@]}"
		read -r idle1 all1 < <(machine_ticks)
		thread_ticks "$pid" >"$TMP/ticks1"
		join "$TMP/ticks0" "$TMP/ticks1" | awk -v tck="$TCK" -v a="$attempt" \
		    -v i0="$idle0" -v i1="$idle1" -v t0="$all0" -v t1="$all1" \
		    -v n="$(val "$out" requests)" -v wrk="$(val "$out" wrk_cpu_s)" '
		    { d = $3 - $2; sum += d; if (d > max) max = d }
		    END {
			all = t1 - t0; busy = all - (i1 - i0)
			printf "bench server_cpu_us %.1f\n", sum / tck * 1e6 / (n > 0 ? n : 1)
			printf "bench busy_threads %.2f\n", (max > 0 ? sum / max : 0)
			printf "bench machine_idle %.3f\n", (i1 - i0) / all
			# neither the server nor wrk: kernel threads, other tenants
			other = (busy - sum - wrk * tck) / all
			printf "bench other_cpu %.3f\n", (other < 0 ? 0 : other)
			printf "bench attempts %d\n", a }' >>"$out"
		cp "$out" "$out.$attempt"
		if [ "$par" -lt 2 ] || [ "$attempt" -gt "${BENCH_RETRIES:-2}" ] ||
		    awk -v b="$(val "$out" busy_threads)" 'BEGIN { exit !(b >= 1.25) }'; then
			break
		fi
		log "  all connections on one server thread (busy threads $(val "$out" busy_threads)): again"
	done
}

# http_point PID URL CONNS OUTFILE REQ_ARGS...: BENCH_REPEAT (default 1)
# runs of http_one; OUTFILE is the run with the median rate, and gets
# "bench runs N" and "bench rates r1,r2,..." (all runs, in order).  Loaded
# 2-core machines move by tens of percent from one run to the next; the
# median of a few is what a ratio between two endpoints can stand on.
http_point() {
	local pid=$1 url=$2 c=$3 out=$4 i n=${BENCH_REPEAT:-1} rates=() best
	shift 4
	local args=("$@")
	for i in $(seq 1 "$n"); do
		# each run its own idempotency keys
		[ "$7" != - ] && args[6]="$7r$i-"
		http_one "$pid" "$url" "$c" "$out.r$i" "${args[@]}"
		rates+=("$(rate "$out.r$i") $i")
	done
	best=$(printf '%s\n' "${rates[@]}" | sort -n | awk -v m=$(((n + 1) / 2)) 'NR == m { print $2 }')
	cp "$out.r$best" "$out"
	for i in "$out.r$best".*; do cp "$i" "$out.${i##*.}"; done
	rm -f "$out".r*
	echo "bench runs $n" >>"$out"
	echo "bench rates $(printf '%s\n' "${rates[@]}" | awk '{ printf "%s%s", (NR > 1 ? "," : ""), $1 }')" >>"$out"
}

# bare_start SIZE [STATUS]: mhd_bare on a free port; sets BPORT, BPID
bare_start() {
	"$O/bench/mhd_bare" --size "$1" --status "${2:-200}" \
	    --threads "$HTTP_THREADS" >"$TMP/bare.out" 2>&1 &
	BPID=$!
	PIDS+=("$BPID")
	BPORT=
	local _
	for _ in $(seq 1 50); do
		BPORT=$(awk '/^port/ { print $2 }' "$TMP/bare.out")
		[ -n "$BPORT" ] && return 0
		sleep 0.1
	done
	log "mhd_bare did not start"
	exit 1
}
bare_stop() {
	kill "$BPID" 2>/dev/null || true
	wait "$BPID" 2>/dev/null || true
}

# machine_json: the machine, for the report
machine_json() {
	jq -n --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
	    --argjson cores "$(nproc)" \
	    --arg softhsm "$(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null || echo '?')" \
	    --arg openssl "$(openssl version)" \
	    '{cpu: $cpu, cores: $cores, softhsm2: $softhsm, openssl: $openssl}'
}
