#!/bin/sh
# The man pages: each renders without a single groff warning, and each documents what
# the code has. TAP output, for automake's tap-driver.
#   mnzone.conf.5    every key of mz_config_set (lib/mz_config.c) has an entry
#   mnzone-enroll.8  every command of commands[] (enroll/main.c) has an entry
#   pam_mnzone.8     every module argument of mz_config_from_args (lib/mz_config.c)
#                    has an entry, and every PAM code pam_mnzone.c returns is named
#   mnzoned.8        every long option of opts[] (daemon/mnzoned.c) is named
# "Has an entry" means that a line of the rendered page starts with the name, as a
# .TP tag puts it; "is named" means that it appears as a word anywhere in the page.
# The section NOT AVAILABLE IN THIS VERSION does not count: a command that exists must
# be documented as such.
# MZ_SRCDIR is the absolute source directory (set by Makefile.am).

if ! command -v groff >/dev/null 2>&1; then
    echo "1..0 # SKIP groff not installed"
    exit 0
fi
srcdir=${MZ_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mz-man.XXXXXX") || {
    echo "Bail out! cannot create a temporary directory"
    exit 1
}
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

echo "1..8"
n=0
# result STATUS DESCRIPTION: one TAP line; STATUS 0 is ok.
result() {
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

# Rendered as plain ASCII text: no hyphenation, lines long enough that no name is
# split, no overstriking, without the section NOT AVAILABLE IN THIS VERSION. Japanese
# text becomes warnings, which are not looked at here.
render() {
    groff -man -Tascii -rHY=0 -rLL=300n -P-cbou "$1" 2>/dev/null |
        awk '/^[A-Z]/ { skip = ($0 == "NOT AVAILABLE IN THIS VERSION") } !skip'
}

# missing_entries TEXT NAME...: prints the names that start no line of TEXT.
missing_entries() {
    text=$1
    shift
    for name in "$@"; do
        grep -Eq "^[[:space:]]*$name([[:space:]=]|\$)" "$text" || printf ' %s' "$name"
    done
}

# missing_words TEXT NAME...: prints the names that do not appear as words in TEXT.
missing_words() {
    text=$1
    shift
    for name in "$@"; do
        grep -Eq "(^|[^A-Za-z0-9_])$name([^A-Za-z0-9_]|\$)" "$text" || printf ' %s' "$name"
    done
}

# documents DESCRIPTION MISSING: passes when MISSING (names found missing) is empty.
documents() {
    if [ -z "$2" ]; then result 0 "$1"; else result 1 "$1 (missing:$2)"; fi
}

# --- 1-4: groff -man -ww says nothing and succeeds
for page in pam_mnzone.8 mnzone-enroll.8 mnzone.conf.5 mnzoned.8; do
    file="$srcdir/man/$page"
    if [ ! -s "$file" ]; then
        result 1 "$page renders without warnings (missing or empty)"
        continue
    fi
    groff -man -ww -Tutf8 -z "$file" >/dev/null 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq 0 ] && [ ! -s "$tmp/err" ]; then
        result 0 "$page renders without warnings"
    else
        result 1 "$page renders without warnings (groff exit $rc)"
        sed 's/^/# /' "$tmp/err"
    fi
done

# --- 5: mnzone.conf.5 has an entry for every configuration key
keys=$(sed -n '/^int mz_config_set(/,/^}/p' "$srcdir/lib/mz_config.c" |
    sed -n 's/.*strcmp(key, "\([A-Za-z0-9_]*\)").*/\1/p')
if [ -z "$keys" ]; then
    result 1 "mnzone.conf.5 documents every key (no keys found in lib/mz_config.c)"
else
    render "$srcdir/man/mnzone.conf.5" >"$tmp/conf.txt"
    # shellcheck disable=SC2086 # one name per word
    documents "mnzone.conf.5 documents every key of mz_config_set" \
        "$(missing_entries "$tmp/conf.txt" $keys)"
fi

# --- 6: mnzone-enroll.8 has an entry for every command
commands=$(sed -n '/commands\[\] = {/,/^};/p' "$srcdir/enroll/main.c" |
    sed -n 's/.*{"\([A-Za-z0-9_-]*\)",.*/\1/p')
if [ -z "$commands" ]; then
    result 1 "mnzone-enroll.8 documents every command (no commands found in enroll/main.c)"
else
    render "$srcdir/man/mnzone-enroll.8" >"$tmp/enroll.txt"
    # shellcheck disable=SC2086
    documents "mnzone-enroll.8 documents every command of commands[]" \
        "$(missing_entries "$tmp/enroll.txt" $commands)"
fi

# --- 7: pam_mnzone.8 has an entry for every module argument and names every PAM code
args=$(sed -n '/^int mz_config_from_args(/,/^}/p' "$srcdir/lib/mz_config.c" |
    sed -n 's/.*cmp([^,]*, "\([A-Za-z0-9_]*\)=*".*/\1/p' | sort -u)
codes=$(sed -n -e 's/.*return \(PAM_[A-Z_]*\);.*/\1/p' -e 's/.*rc = \(PAM_[A-Z_]*\);.*/\1/p' \
    "$srcdir/pam_module/pam_mnzone.c" | sort -u)
if [ -z "$args" ] || [ -z "$codes" ]; then
    result 1 "pam_mnzone.8 documents arguments and return codes (none found in the sources)"
else
    render "$srcdir/man/pam_mnzone.8" >"$tmp/pam.txt"
    # shellcheck disable=SC2086
    documents "pam_mnzone.8 documents every module argument and PAM return code" \
        "$(missing_entries "$tmp/pam.txt" $args)$(missing_words "$tmp/pam.txt" $codes)"
fi

# --- 8: mnzoned.8 names every long option
options=$(sed -n '/opts\[\] = {/,/};/p' "$srcdir/daemon/mnzoned.c" |
    grep -o '{"[a-z][a-z-]*",' | sed 's/{"\(.*\)",/--\1/')
if [ -z "$options" ]; then
    result 1 "mnzoned.8 documents every option (no options found in daemon/mnzoned.c)"
else
    render "$srcdir/man/mnzoned.8" >"$tmp/mnzoned.txt"
    # shellcheck disable=SC2086
    documents "mnzoned.8 documents every option of mnzoned" \
        "$(missing_words "$tmp/mnzoned.txt" $options)"
fi
exit 0
