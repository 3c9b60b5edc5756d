#!/usr/bin/env bash
# Tests of the built mnzone-enroll check: the configuration, the key file, the store and
# its folder (owner and modes), the PAM stacks that use pam_mnzone.so (fixtures in
# tests/cli/pam-fixtures, one folder per case, each copied into a temporary folder
# before the run) and sshd_config for the sshd stack. Each case checks the exit code
# and the exact FILE:LINE of every finding, and that no other finding is printed.
# TAP output.
set -u
tool="$MZ_BUILDDIR/enroll/mnzone-enroll"
src=${MZ_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
fixtures="$src/tests/cli/pam-fixtures"
for need in jq timeout; do
    if ! command -v "$need" >/dev/null 2>&1; then
        echo "1..0 # SKIP $need not installed (./quickstart test installs it)"
        exit 0
    fi
done
export LC_ALL=C # the English messages
unset SUDO_USER

n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
# is NAME GOT WANT: passes when GOT is WANT, else shows both.
is() {
    if [ "$2" = "$3" ]; then ok "$1"; else
        not_ok "$1"; printf '%s\n' "got:" "$2" "expected:" "$3" | sed 's/^/#   /'; fi
}
# grep_out NAME TEXT: passes when the output has a line with TEXT (fixed string).
grep_out() {
    if grep -q -F -- "$2" "$work/out"; then ok "$1"; else
        not_ok "$1"; sed 's/^/# /' "$work/out" "$work/err"; fi
}

work=$(mktemp -d /tmp/mz-cli-check.XXXXXX)
chmod 0700 "$work"
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
db="$work/store/mnzone.db"
key="$work/mnzone.key"
conf="$work/mnzone.conf"
printf 'store = %s\nkey_file = %s\ntime_sync = off\n' "$db" "$key" >"$conf"
chmod 600 "$conf"
"$tool" --config "$conf" init >/dev/null 2>&1 </dev/null || { echo "Bail out! init failed"; exit 1; }
good_sshd="$fixtures/sshd_config/good.conf"

# run ARGS...: mnzone-enroll --config CONF check ARGS (stopped after 20 s: a loop in the
# includes must not hang it). Output in $work/out and $work/err, status in $status.
run() {
    timeout 20 "$tool" --config "$conf" check "$@" >"$work/out" 2>"$work/err" </dev/null
    status=$?
}
# copy NAME: a fresh copy of fixture NAME; prints its path.
copy() {
    rm -rf "$work/pam/$1"
    mkdir -p "$work/pam"
    cp -R "$fixtures/$1" "$work/pam/$1"
    chmod -R u+w,go-w "$work/pam/$1" # the source may be read-only (make distcheck)
    echo "$work/pam/$1"
}
# locations: the FILE:LINE (or FILE) of every finding in the text output, sorted.
locations() { sed -n 's|^\(/[^ ]*\): .*|\1|p' "$work/out" | sort; }
# expect NAME CODE [LOCATION=TEXT...]: the exit status is CODE and the findings are
# exactly at the LOCATIONs (FILE:LINE, or FILE for a whole file), each with TEXT.
expect() {
    local name=$1 want=$2 loc text wanted="" spec
    shift 2
    if [ "$status" -eq "$want" ]; then ok "$name: exit $want"; else
        not_ok "$name: exit $status, expected $want"; sed 's/^/# /' "$work/out" "$work/err"; fi
    for spec in "$@"; do wanted+="${spec%%=*}"$'\n'; done
    is "$name: where" "$(locations)" "$(printf '%s' "$wanted" | sed '/^$/d' | sort)"
    for spec in "$@"; do
        loc=${spec%%=*} text=${spec#*=}
        if grep -q -F -- "$loc: " "$work/out" &&
            grep -F -- "$loc: " "$work/out" | grep -q -F -- "$text"; then
            ok "$name: $loc: $text"
        else
            not_ok "$name: $loc: $text"; sed 's/^/# /' "$work/out"
        fi
    done
}

# ---- stacks without findings

d=$(copy good)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "good stacks (jump landing on the module, brackets, full module paths)" 0
grep_out "good: the summary counts the stacks" "No problems found (PAM stacks that use pam_mnzone.so: 3)."

d=$(copy debian)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "Debian 12 layout: login, sshd, sudo from examples/pam.d, common-* with success=1 over pam_deny" 0
grep_out "Debian: login, sshd and sudo use the module" "(PAM stacks that use pam_mnzone.so: 3)"

d=$(copy pam-auth-update)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "pam-auth-update profile: the module in common-auth, the account line in the service" 0

run --pam-dir "$d" --sshd-config "$good_sshd" --json
is "no findings: --json prints an empty array" "$(jq -c . "$work/out")" "[]"

# ---- the module's own control

d=$(copy optional)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "optional and sufficient" 1 \
    "$d/login:3=control \"optional\" lets the login go on when pam_mnzone.so fails (auth_err=ignore)" \
    "$d/su:2=control \"sufficient\" lets the login go on" \
    "$d/sudo:3=revoked, suspended or expired staff can still log in"
grep_out "the summary counts errors and warnings" "Problems found: 3 (errors: 3, warnings: 0)."

d=$(copy bracket)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "bracket controls that ignore or jump on a failure" 1 \
    "$d/login:2=(auth_err=ignore)" \
    "$d/su:2=(perm_denied=ignore)" \
    "$d/sudo:2=(auth_err=1)"

d=$(copy dash-auth)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "-auth and -account" 1 \
    "$d/login:2=\"-auth\": PAM logs nothing when pam_mnzone.so cannot be loaded" \
    "$d/login:3=remove the \"-\" before \"account\""

d=$(copy no-account)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "no account line (directly, and through @include)" 1 \
    "$d/login:2=pam_mnzone.so is in the auth stack but not in the account stack" \
    "$d/sudo:3=add the line: account required pam_mnzone.so"
run --pam-dir "$d" --sshd-config "$good_sshd" --json
is "no account line: a warning, and why" \
    "$(jq -r '[.[] | select(.problem | test("account stack")) | "\(.severity): \(.why)"] | unique | .[]' "$work/out")" \
    "warning: a login that skips the auth stack (an SSH public key alone, su from root) is checked for revocation, suspension and expiry only by the account line"

# ---- lines before the module that end the stack or jump over it

d=$(copy sufficient-before)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "sufficient before the module" 1 \
    "$d/login:3=\"sufficient\" ends the auth stack on success before pam_mnzone.so ($d/login:4)"

d=$(copy success-done-before)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "success=done (bracket with blanks) and default=done before the module" 1 \
    "$d/login:2=\"[success=done    new_authtok_reqd=done default=ignore]\" ends the auth stack" \
    "$d/su:2=\"[default=done auth_err=ignore]\" ends the auth stack"

d=$(copy success-jump)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "jumps past the module (on success, and on failure)" 1 \
    "$d/login:2=\"[success=2 default=ignore]\" jumps past pam_mnzone.so ($d/login:4)" \
    "$d/su:2=\"[success=ok default=1]\" jumps past pam_mnzone.so ($d/su:3)"

d=$(copy continuation)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "a line continued with backslashes is reported where it starts" 1 \
    "$d/login:2=\"sufficient\" ends the auth stack on success before pam_mnzone.so ($d/login:5)"

d=$(copy continuation-gap)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "a line continued over a comment line (Debian 12 joins the next line)" 1 \
    "$d/login:4=a line continued with a backslash goes on over a blank or comment line"

d=$(copy bracket-keywords)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "keywords in brackets, [include], @INCLUDE in capitals: read as PAM reads them" 1 \
    "$d/login:2=\"[sufficient]\" ends the auth stack on success before pam_mnzone.so ($d/login:3)" \
    "$d/su-extra:1=\"sufficient\" ends the auth stack on success before pam_mnzone.so ($d/su:3)" \
    "$d/sudo-extra:1=\"sufficient\" ends the auth stack on success before pam_mnzone.so ($d/sudo:3)"

d=$(copy after-common-account)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "the account line after Debian's common-account (new_authtok_reqd=done)" 1 \
    "$d/common-account:5=ends the account stack for an expired password before pam_mnzone.so ($d/login:6)"

d=$(copy include-chain)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "bad lines reached through @include and through auth include" 1 \
    "$d/common-auth:2=\"sufficient\" ends the auth stack on success before pam_mnzone.so ($d/login:4)" \
    "$d/extra-auth:2=\"[success=done default=ignore]\" ends the auth stack"

d=$(copy substack)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "substack: done ends only the substack; the same lines included end the stack" 1 \
    "$d/local-auth:1=before pam_mnzone.so ($d/su:3)" \
    "$d/mz-auth:1=before pam_mnzone.so ($d/mz-auth:2)"

d=$(copy reset-after)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "reset after the module" 1 \
    "$d/login:3=\"[success=ok default=reset]\" resets the stack after pam_mnzone.so ($d/login:2)"

# ---- includes that PAM cannot follow, lines it cannot read, module arguments

d=$(copy loop)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "include loops (@include through two files; auth include of itself) end" 1 \
    "$d/common-extra:2=include loop: $d/common-auth includes itself" \
    "$d/su-auth:2=include loop: $d/su-auth includes itself"

d=$(copy missing-include)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "a missing included file" 1 \
    "$d/login:1=included file $d/system-auth not found"

d=$(copy syntax)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "lines PAM cannot read" 1 \
    "$d/login:2=cannot read the control \"requried\"" \
    "$d/login:3=unknown type \"auht\"" \
    "$d/login:4=cannot read the control \"[success=ok defualt=die]\"" \
    "$d/login:5=no module given"
grep_out "syntax: all warnings" "Problems found: 4 (errors: 0, warnings: 4)."

d=$(copy args)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "module arguments" 1 \
    "$d/login:2=unenrolled = ignore is not allowed in zone mynumber" \
    "$d/login:3=the module reads /etc/security/other.conf, not $conf" \
    "$d/su:2=totp_digits: bad value \"9\"" \
    "$d/su:2=unknown module argument \"verbose\""

d=$(copy none)
run --pam-dir "$d" --sshd-config "$good_sshd"
expect "no stack uses the module" 1 "$d=no PAM stack here uses pam_mnzone.so"

# ---- sshd_config, read only for an sshd stack that uses the module

d=$(copy sshd)
sc="$fixtures/sshd_config"
run --pam-dir "$d" --sshd-config "$sc/key-and-code.conf"
expect "sshd: AuthenticationMethods publickey,keyboard-interactive:pam" 0
run --pam-dir "$d" --sshd-config "$sc/pubkey-yes.conf"
expect "sshd: PubkeyAuthentication yes" 1 \
    "$sc/pubkey-yes.conf:4=\"PubkeyAuthentication yes\": publickey logins skip the PAM auth stack"
run --pam-dir "$d" --sshd-config "$sc/pubkey-default.conf"
expect "sshd: PubkeyAuthentication not set (default yes)" 1 \
    "$sc/pubkey-default.conf=PubkeyAuthentication is not set (the default is yes)"
run --pam-dir "$d" --sshd-config "$sc/usepam-no.conf"
expect "sshd: UsePAM no (the first value wins)" 1 "$sc/usepam-no.conf:3=\"UsePAM no\": sshd does not use PAM"
run --pam-dir "$d" --sshd-config "$sc/kbd-no.conf"
expect "sshd: keyboard-interactive off, passwords on" 1 \
    "$sc/kbd-no.conf:3=\"ChallengeResponseAuthentication no\": sshd cannot ask for the verification code"
grep_out "sshd: passwords get the password as the code" "they always fail and count toward the lock-out"
run --pam-dir "$d" --sshd-config "$sc/methods-list.conf"
expect "sshd: a list of AuthenticationMethods without keyboard-interactive" 1 \
    "$sc/methods-list.conf:3=the list \"publickey\" has no keyboard-interactive"
run --pam-dir "$d" --sshd-config "$sc/match.conf"
expect "sshd: a Match block that turns public keys on" 1 \
    "$sc/match.conf:6=\"PubkeyAuthentication yes\": publickey logins skip the PAM auth stack"
run --pam-dir "$d" --sshd-config "$sc/include/sshd_config"
expect "sshd: an Include read first wins over the main file" 1 \
    "$sc/include/sshd_config.d/10-keys.conf:2=\"PubkeyAuthentication yes\""
d=$(copy good)
run --pam-dir "$d" --sshd-config "$sc/usepam-no.conf"
expect "sshd_config is not read when no sshd stack uses the module" 0
if [ ! -e /etc/ssh/sshd_config ]; then
    d=$(copy sshd)
    run --pam-dir "$d"
    expect "a missing /etc/ssh/sshd_config (the default) is skipped" 0
else
    ok "# SKIP /etc/ssh/sshd_config exists here"
fi

# ---- owner and modes of the key file, the store, its folder and the PAM files

d=$(copy good)
check_modes() { run --pam-dir "$d" --sshd-config "$good_sshd" "$@"; }
chmod o+r "$key"
check_modes
expect "key file readable by others" 1 "$key=readable by group or others"
grep_out "key file: the fix" "chown root:root $key && chmod 600 $key"
check_modes --json
is "--json: the file-level finding has line null" "$(jq -c '[.[] | [.file, .line, .severity]]' "$work/out")" \
    "[[\"$key\",null,\"error\"]]"
chmod 600 "$key"

mv "$key" "$work/key.away"
check_modes
expect "no key file" 1 "$key=not found"
grep_out "no key file: the fix" "run mnzone-enroll init"
mv "$work/key.away" "$key"

cp "$key" "$work/key.bak"
printf 'x' >>"$key"
check_modes
expect "key file of 33 bytes" 1 "$key=a key file holds exactly 32 bytes"
cp "$work/key.bak" "$key"
mv "$key" "$work/real.key"
ln -s "$work/real.key" "$key"
check_modes
expect "key file that is a symbolic link" 1 "$key=is a symbolic link"
grep_out "symbolic link: the fix" "replace the link $key with the file it points to"
rm "$key"
mv "$work/real.key" "$key"

chmod g+w "$work/store"
check_modes
expect "store folder writable by group" 1 "$work/store=writable by group or others"
chmod 700 "$work/store"

# A folder above the store's own (the module checks every folder on the way, so that
# nobody else can rename the store's folder between its check and its open); the store
# of this second configuration lies two folders down.
deep="$work/deep"
mkdir -m 755 "$deep"
mkdir -m 700 "$deep/store"
printf 'store = %s\nkey_file = %s\ntime_sync = off\n' "$deep/store/mnzone.db" "$key" >"$work/deep.conf"
chmod 600 "$work/deep.conf"
"$tool" --config "$work/deep.conf" init >/dev/null 2>&1 </dev/null || not_ok "init of the deep store"
main_conf=$conf conf=$work/deep.conf
chmod g+w "$deep"
check_modes
expect "a folder above the store's writable by group" 1 "$deep=writable by group or others"
grep_out "a folder above the store's: the fix" "chown root $deep && chmod go-w $deep"
chmod 755 "$deep"
check_modes
expect "the folders above the store closed again" 0
conf=$main_conf

chmod g+r "$db"
check_modes
expect "store readable by group" 1 "$db=readable by group or others"
chmod 600 "$db"

: >"$db-wal"
chmod 644 "$db-wal"
check_modes
expect "store journal readable by others" 1 "$db-wal=readable by group or others"
rm -f "$db-wal"

mv "$db" "$work/store.bak"
check_modes
expect "no store" 1 "$db=not found"
mv "$work/store.bak" "$db"

chmod g+w "$d/login"
check_modes
expect "a PAM file of the stack writable by group" 1 "$d/login=writable by group or others"
chmod 644 "$d/login"
chmod o+w "$d"
check_modes
expect "the PAM folder writable by others" 1 "$d=writable by group or others"
chmod 755 "$d"

# A configuration the module would refuse: check reports it as a finding; as long as
# main.c loads the configuration before any command, that stops with exit 4 instead.
chmod g+w "$conf"
check_modes
if [ "$status" -eq 4 ]; then
    if grep -q -F -- "$conf: writable by group or others" "$work/err"; then
        ok "configuration writable by group: exit 4 from main, naming it"
    else
        not_ok "configuration writable by group: exit 4 from main, naming it"; sed 's/^/# /' "$work/err"
    fi
else
    expect "configuration writable by group" 1 "$conf=writable by group or others"
fi
chmod 600 "$conf"

check_modes
expect "all restored" 0

# ---- --json

d=$(copy bracket)
run --pam-dir "$d" --sshd-config "$good_sshd" --json
is "--json: exit 1" "$status" 1
if jq -e . "$work/out" >/dev/null 2>&1; then ok "--json: valid JSON"; else not_ok "--json: valid JSON"; fi
is "--json: one object per finding, at FILE:LINE" \
    "$(jq -r '.[] | "\(.file):\(.line)"' "$work/out" | sort)" \
    "$(printf '%s\n' "$d/login:2" "$d/su:2" "$d/sudo:2")"
is "--json: every object has file, line, severity, problem, why and fix" \
    "$(jq -c '[.[] | keys] | unique' "$work/out")" \
    '[["file","fix","line","problem","severity","why"]]'
is "--json: severities" "$(jq -r '[.[].severity] | unique | join(",")' "$work/out")" "error"
is "--json: line is a number" "$(jq -r '[.[].line | type] | unique | join(",")' "$work/out")" "number"
is "--json: the text of the problem" "$(jq -r '.[0].problem' "$work/out")" \
    'control "[success=ok default=ignore]" lets the login go on when pam_mnzone.so fails (auth_err=ignore)'
is "--json: no summary line" "$(grep -c 'Problems found' "$work/out")" 0

# ---- usage and what cannot be read

run --pam-dir
is "--pam-dir without a value: exit 2" "$status" 2
run --bogus
is "unknown option: exit 2" "$status" 2
run extra
is "an operand: exit 2" "$status" 2
run --pam-dir "$work/no-such-dir" --sshd-config "$good_sshd"
is "a PAM folder that does not exist: exit 4" "$status" 4
if grep -q -F -- "$work/no-such-dir: No such file or directory" "$work/err"; then
    ok "the error names the folder"; else not_ok "the error names the folder"; sed 's/^/# /' "$work/err"; fi
d=$(copy sshd)
run --pam-dir "$d" --sshd-config "$work/no-such-sshd_config"
is "a named sshd_config that does not exist: exit 4" "$status" 4

echo "1..$n"
