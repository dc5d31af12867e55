#!/usr/bin/env bash
# The short form of the soak test (issue #8): scripts/soak.sh for 20 s of
# mixed load after 5 s of measuring the maximum.  make soak runs it for 10
# minutes.  Skipped when certsvcd runs under a wrapper (valgrind).
if [ -n "${CERTSVC_E2E_WRAP:-}" ]; then
	echo "# soak: skipped under CERTSVC_E2E_WRAP"
	echo "soak: 0 passed, 0 failed"
	exit 0
fi
SOAK_SECONDS=${SOAK_SHORT_SECONDS:-20} SOAK_MEASURE_SECONDS=5 \
    exec bash "$(dirname "$0")/../../scripts/soak.sh" load
