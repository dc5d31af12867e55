#!/usr/bin/env bash
# The manuals (issue #9): man/certsvcd.8, man/certsvc-admin.8 and
# man/certsvc.conf.5 render without a groff warning; certsvc-admin(8)
# lists the same commands as "certsvc-admin --help", with every option of
# each command's --help; certsvc.conf(5) lists every configuration key
# (the documented example and what "certsvc-admin init" writes) and no
# other; certsvcd(8) names every option of "certsvcd --help".
source "$(dirname "$0")/lib.sh"
MAN=${CERTSVC_MAN_DIR:-$ROOT/man} # another dir: to check that the checks can fail

for page in certsvcd.8 certsvc-admin.8 certsvc.conf.5; do
	out=$(groff -k -ww -z -man "$MAN/$page" 2>&1); rc=$?
	expect_eq "groff -ww: $page has no warning" "$rc:$out" "0:"
	out=$(MANWIDTH=80 man --warnings=w -l "$MAN/$page" 2>&1 >/dev/null); rc=$?
	expect_eq "man -l renders $page" "$rc:$out" "0:"
	expect_match "$page names itself in NAME" \
	    "$(MANWIDTH=80 man -l "$MAN/$page" 2>/dev/null | sed -n '/^NAME/{n;p}')" \
	    "^ *${page%.*} "
done

# --- certsvc-admin: commands ----------------------------------------------------
# "  noun verb   Summary..." under "commands:"; a summary starts with a
# capital, so the second word is a verb only when it is lower case.
help_cmds() {
	"$ADMIN" --help | sed -n '/^commands:/,/^$/p' | sed '1d;/^$/d' |
	    awk '{ n = $1; if ($2 ~ /^[a-z][a-z-]*$/) n = n " " $2; print n }'
}
# The .SS headings of the COMMANDS section.
man_cmds() {
	sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$MAN/certsvc-admin.8" |
	    sed -n 's/^\.SS "\(.*\)"$/\1/p'
}
H=$(help_cmds | sort); M=$(man_cmds | sort)
expect_match "certsvc-admin --help lists commands" "$(printf '%s\n' "$H" | wc -l)" '^[1-9][0-9]+$'
expect_eq "certsvc-admin(8) and --help list the same commands" \
    "$(diff <(printf '%s\n' "$H") <(printf '%s\n' "$M") | grep '^[<>]' |
       sed 's/^</only in --help:/; s/^>/only in the man page:/')" ""

# Every option of every command's --help in that command's section.
missing=
while read -r cmd; do
	# shellcheck disable=SC2086
	h=$("$ADMIN" $cmd --help 2>&1) || { missing+="$cmd: --help fails; "; continue; }
	sect=$(sed -n "/^\\.SS \"$cmd\"\$/,/^\\.S[SH] /p" "$MAN/certsvc-admin.8" | sed 's/\\-/-/g')
	for o in $(printf '%s\n' "$h" | sed '/--data-dir DIR/,$d' | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
		printf '%s\n' "$sect" | grep -qF -- "$o" || missing+="$cmd $o; "
	done
done < <(help_cmds)
expect_eq "every option of every command's --help is in its man section" "$missing" ""

# The exit codes of --help are the man page's.
codes_help=$("$ADMIN" --help | sed -n '/^exit codes:/,$p' | grep -oE '(^|[ ,])[0-9] ' | tr -dc '0-9\n' | sort -n | tr '\n' ' ')
codes_man=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$MAN/certsvc-admin.8" | sed -n '/^\.TP/{n;s/^\.B \([0-9]\)$/\1/p}' | sort -n | tr '\n' ' ')
expect_eq "certsvc-admin(8) documents the exit codes of --help" "$codes_man" "$codes_help"

# --- certsvc.conf: keys -----------------------------------------------------------
man_keys() {
	sed -n '/^\.SH KEYS/,/^\.SH /p' "$MAN/certsvc.conf.5" |
	    sed -n '/^\.TP/{n;s/^\.B \([a-z0-9_]*\)$/\1/p}' | sort
}
conf_keys() { grep -oE '^[a-z0-9_]+ *=' "$1" | tr -d ' =' | sort; }
K=$(man_keys)
expect_match "certsvc.conf(5) lists keys" "$(printf '%s\n' "$K" | wc -l)" '^[1-9][0-9]+$'
expect_eq "every key of docs/certsvc.conf.example is in certsvc.conf(5)" \
    "$(comm -23 <(conf_keys "$ROOT/docs/certsvc.conf.example") <(printf '%s\n' "$K"))" ""
D=$E2E_TMP/data
if "$ADMIN" init --data-dir "$D" >/dev/null 2>&1; then
	expect_eq "every key that init writes (cfg_render) is in certsvc.conf(5)" \
	    "$(comm -23 <(conf_keys "$D/certsvc.conf") <(printf '%s\n' "$K"))" ""
	expect_eq "certsvc.conf(5) documents no key that does not exist" \
	    "$(comm -13 <(conf_keys "$D/certsvc.conf") <(printf '%s\n' "$K"))" ""
else
	fail "certsvc-admin init writes a config"
fi

# --- certsvcd: options --------------------------------------------------------------
h=$("$DAEMON" --help 2>&1); expect_eq "certsvcd --help: exit 0" "$?" 0
missing=
for o in $(printf '%s\n' "$h" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
	sed 's/\\-/-/g' "$MAN/certsvcd.8" | grep -qF -- "$o" || missing+="$o "
done
expect_eq "certsvcd(8) names every option of certsvcd --help" "$missing" ""
expect_match "certsvcd(8) documents SIGHUP" "$(cat "$MAN/certsvcd.8")" '^\.B SIGHUP'

e2e_summary
