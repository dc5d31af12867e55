#!/usr/bin/env bash
# Run the benchmarks in $O/bench and save their JSON under bench/out/.
# Results and the commands that produced them are recorded in BENCHMARKS.md.
#   bench/p11       token signatures (issue #3)
#   bench/issue.sh  licence issuance over HTTP against its ceiling (issue #4);
#                   BENCH_DURATION=3 for a quick run (default 20 s a point)
set -euo pipefail
O=${O:-build}
SECONDS_PER=${BENCH_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-3}
mkdir -p bench/out
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "softhsm2: $(dpkg-query -W -f='${Version}' softhsm2 2>/dev/null), openssl: $(openssl version)"
"$O/bench/p11" --seconds "$SECONDS_PER" --rounds "$ROUNDS"
"$O/bench/p11" --seconds "$SECONDS_PER" --rounds 1 --json >bench/out/p11.json
echo "json: bench/out/p11.json"
# make bench has built certsvcd, certsvc-admin and every bench/*.c.
BENCH_NO_BUILD=1 O="$O" bench/issue.sh
