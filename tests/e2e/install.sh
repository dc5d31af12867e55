#!/usr/bin/env bash
# make install (issue #9): the installed file list under DESTDIR with
# PREFIX=/usr, the installed binaries run, the systemd unit passes
# systemd-analyze verify (with the installed man pages it cites) and its
# sandbox scores "OK" in systemd-analyze security; the sysusers and
# tmpfiles files are accepted by systemd-sysusers and systemd-tmpfiles;
# an install without DESTDIR serves the installed verification page.
# Leaves $O as it found it: the web dir compiled into certsvcd is the
# repo's again at the end.
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1

# An $O built with the sanitizers links only with them.
SAN=
nm "$ROOT/$O/obj/certsvc/err.o" 2>/dev/null | grep -q __asan && SAN=address,undefined
mk() { make -s O="$O" SANITIZE="$SAN" "$@"; }

R=$E2E_TMP/root
out=$(mk install DESTDIR="$R" PREFIX=/usr 2>&1); rc=$?
expect_eq "make install DESTDIR=... PREFIX=/usr: exit 0" "$rc" 0
if [ "$rc" -ne 0 ]; then
	printf '%s\n' "$out" | tail -20
	mk all >/dev/null 2>&1 # $O as it was
	e2e_summary; exit 1
fi
want=$( {
	echo 755 usr/sbin/certsvcd; echo 755 usr/sbin/certsvc-admin
	(cd web && find . -type f -printf '644 usr/share/certsvc/web/%P\n')
	echo 644 usr/share/doc/certsvc/certsvc.conf.example
	echo 644 usr/share/doc/certsvc/operations.md
	echo 644 usr/share/man/man5/certsvc.conf.5
	echo 644 usr/share/man/man8/certsvc-admin.8
	echo 644 usr/share/man/man8/certsvcd.8
	echo 644 usr/lib/systemd/system/certsvcd.service
	echo 644 usr/lib/systemd/system/certsvc-backup.service
	echo 644 usr/lib/systemd/system/certsvc-backup.timer
	echo 644 usr/lib/sysusers.d/certsvc.conf
	echo 644 usr/lib/tmpfiles.d/certsvc.conf
} | sort -k2)
expect_eq "the installed files and their modes" \
    "$(find "$R" -type f -printf '%m %P\n' | sort -k2)" "$want"
expect_eq "the web page is installed as it is in web/" \
    "$(diff -r web "$R/usr/share/certsvc/web" && echo same)" same
out=$("$R/usr/sbin/certsvc-admin" --help 2>&1); rc=$?
expect_eq "the installed certsvc-admin --help: exit 0" "$rc" 0
expect_match "... and lists its commands" "$out" '^  backup '
check "the installed certsvcd --help: exit 0" "$R/usr/sbin/certsvcd" --help
expect_match "the installed certsvcd looks for the page in PREFIX/share/certsvc/web" \
    "$(strings "$R/usr/sbin/certsvcd")" '^/usr/share/certsvc/web$'

# --- the systemd unit ---------------------------------------------------------
U=$R/usr/lib/systemd/system/certsvcd.service
expect_match "ExecStart is the installed certsvcd" "$(cat "$U")" \
    '^ExecStart=/usr/sbin/certsvcd --config /var/lib/certsvc/certsvc.conf$'
for d in User=certsvc NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
    PrivateTmp=yes ReadWritePaths=/var/lib/certsvc CapabilityBoundingSet= \
    SystemCallFilter=@system-service MemoryDenyWriteExecute=yes \
    'ExecReload=/bin/kill -HUP $MAINPID'; do
	grep -qxF -- "$d" "$U" && ok "the unit sets $d" || fail "the unit sets $d"
done
# systemd-analyze verify wants ExecStart to exist: the DESTDIR copy.
mkdir -p "$E2E_TMP/unit"
sed "s|^ExecStart=/usr/sbin/certsvcd|ExecStart=$R/usr/sbin/certsvcd|" "$U" \
    >"$E2E_TMP/unit/certsvcd.service"
out=$(MANPATH=$R/usr/share/man systemd-analyze verify "$E2E_TMP/unit/certsvcd.service" 2>&1); rc=$?
expect_eq "systemd-analyze verify passes (its man pages installed)" "$rc:$out" "0:"
out=$(MANPATH=/nonexistent systemd-analyze verify "$E2E_TMP/unit/certsvcd.service" 2>&1); rc=$?
expect_match "... and would fail without them" "$rc:$out" 'certsvcd\(8\)'
# The daily backup: the service and its timer.
UB=$R/usr/lib/systemd/system/certsvc-backup.service
expect_match "the backup service runs the installed certsvc-admin" "$(cat "$UB")" \
    '^ExecStart=/bin/sh -c .exec /usr/sbin/certsvc-admin backup --data-dir /var/lib/certsvc --to '
sed "s|/usr/sbin/certsvc-admin|$R/usr/sbin/certsvc-admin|" "$UB" >"$E2E_TMP/unit/certsvc-backup.service"
cp "$R/usr/lib/systemd/system/certsvc-backup.timer" "$E2E_TMP/unit/"
out=$(MANPATH=$R/usr/share/man systemd-analyze verify "$E2E_TMP/unit/certsvc-backup.service" \
    "$E2E_TMP/unit/certsvc-backup.timer" 2>&1); rc=$?
expect_eq "systemd-analyze verify passes on the backup service and timer" "$rc:$out" "0:"
out=$(systemd-analyze security --offline=yes --threshold=20 "$E2E_TMP/unit/certsvc-backup.service" 2>&1)
expect_eq "the backup service's exposure is at most 2.0" "$?" 0
# The command line the backup service runs, as sh runs it, works.
cmd=$(sed -n "s/^ExecStart=\/bin\/sh -c '\(.*\)'\$/\1/p" "$E2E_TMP/unit/certsvc-backup.service" |
    sed -e 's/%%/%/g' -e "s|/var/lib/certsvc|$E2E_TMP/bdata|; s|/var/backups/certsvc|$E2E_TMP/bk|")
"$R/usr/sbin/certsvc-admin" init --data-dir "$E2E_TMP/bdata" >/dev/null 2>&1
mkdir -p "$E2E_TMP/bk"
out=$(sh -c "$cmd" 2>&1); rc=$?
expect_eq "the backup service's command makes a backup" \
    "$rc $(ls "$E2E_TMP"/bk/*/manifest.json 2>/dev/null | wc -l)" "0 1"
expect_match "... named by its UTC time" "$(ls "$E2E_TMP/bk")" '^[0-9]{8}T[0-9]{6}Z$'

out=$(systemd-analyze security --offline=yes --threshold=20 "$E2E_TMP/unit/certsvcd.service" 2>&1); rc=$?
expect_eq "systemd-analyze security: exposure at most 2.0" "$rc" 0
expect_match "... rated OK" "$(printf '%s' "$out" | tail -1)" 'exposure level for certsvcd.service: [0-1]\.[0-9] OK|exposure level for certsvcd.service: 2\.0 OK'
mkdir -p "$R/etc" "$R/var/lib" # what an image has before its first boot
out=$(systemd-sysusers --root="$R" 2>&1); rc=$?
expect_eq "systemd-sysusers accepts the sysusers file" "$rc" 0
expect_match "... and makes the certsvc user with /var/lib/certsvc" \
    "$(cat "$R/etc/passwd" 2>/dev/null)" '^certsvc:x:[0-9]+:[0-9]+:.*:/var/lib/certsvc:'
uid=$(awk -F: '$1 == "certsvc" { print $3 }' "$R/etc/passwd" 2>/dev/null)
out=$(systemd-tmpfiles --root="$R" --create 2>&1); rc=$?
expect_eq "systemd-tmpfiles makes the data dir 0700, owned by certsvc" \
    "$rc $(stat -c '%a %u' "$R/var/lib/certsvc" 2>/dev/null)" "0 700 $uid"
expect_eq "... and the backup dir" \
    "$(stat -c '%a %u' "$R/var/backups/certsvc" 2>/dev/null)" "700 $uid"

# --- PREFIX without DESTDIR: the installed page is served ---------------------
P=$E2E_TMP/prefix
out=$(mk install PREFIX="$P" 2>&1); rc=$?
expect_eq "make install PREFIX=$P: exit 0" "$rc" 0
D=$E2E_TMP/data
"$P/sbin/certsvc-admin" init --data-dir "$D" >/dev/null 2>&1
expect_eq "the installed certsvc-admin makes a data dir" "$?" 0
DAEMON=$P/sbin/certsvcd
if start_daemon "$D" "$E2E_TMP/certsvcd.log"; then
	curl -s "http://127.0.0.1:$PORT/verify" >"$E2E_TMP/page.html"
	expect_eq "the installed certsvcd serves the installed page" \
	    "$(cmp -s "$E2E_TMP/page.html" "$P/share/certsvc/web/verify.html" && echo same)" same
	stop_daemon
	expect_eq "the installed certsvcd stops cleanly" "$?" 0
else
	fail "the installed certsvcd starts" "$(cat "$E2E_TMP/certsvcd.log")"
fi

# Put $O back: its certsvcd looks for the page in the repo's web/ again.
mk all >/dev/null 2>&1
expect_match "$O/certsvcd is back to the repo's web dir" \
    "$(strings "$ROOT/$O/certsvcd")" "^$ROOT/web\$"

e2e_summary
