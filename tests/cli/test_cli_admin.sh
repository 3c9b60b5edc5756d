#!/usr/bin/env bash
# Tests of the built mnzone-enroll's administrators' commands and one-time codes:
# recovery codes (add, recovery-codes), emergency codes, verify, lock-out and unlock,
# revoke, reset, list, the acting administrator in the audit log, and unsafe stores.
# Each checks the exit code, the output and what the store holds (read with sqlite3).
# TAP output. TOTP codes come from oathtool, never from mnzone.
set -u
tool="$MZ_BUILDDIR/enroll/mnzone-enroll"
OATHTOOL=${OATHTOOL:-oathtool}
for need in "$OATHTOOL" jq sqlite3; do
    if ! command -v "$need" >/dev/null 2>&1; then
        echo "1..0 # SKIP $need not installed (./quickstart test installs it)"
        exit 0
    fi
done
unset SUDO_USER # the actor is the real user unless a test says otherwise

. "$(dirname "$0")/tap.sh"
# grep_out NAME PATTERN [FILE]: passes when FILE ($work/out) has a line matching PATTERN.
grep_out() {
    if grep -q -- "$2" "${3:-$work/out}"; then ok "$1"; else
        not_ok "$1"; sed 's/^/# /' "${3:-$work/out}"; fi
}

work=$(mktemp -d /tmp/mz-cli-admin.XXXXXX)
chmod 0700 "$work"
trap 'rm -rf "$work"' EXIT
db="$work/store/mnzone.db"
# make_conf FILE EXTRA: a configuration for the shared store and key, plus EXTRA lines.
make_conf() {
    printf 'store = %s\nkey_file = %s\ntime_sync = off\n%s' "$db" "$work/mnzone.key" "$2" >"$1"
    chmod 600 "$1"
}
conf="$work/mnzone.conf"
make_conf "$conf" ""
conf0="$work/zero.conf" # no recovery codes
make_conf "$conf0" $'recovery_codes = 0\n'
conf4="$work/four.conf"
make_conf "$conf4" $'recovery_codes = 4\n'
conf3="$work/strict.conf" # locked after three failures, until unlocked
make_conf "$conf3" $'max_failures = 3\nlockout = 0\n'
me=$(id -un)

sq() { sqlite3 "$db" "$1"; }
# codes_of FILE: the codes listed in the text output ("  1. ABCD-EFGH-JKLM-NPQR").
codes_of() { sed -n 's/^ *[0-9][0-9]*\. //p' "$1"; }
valid_code() { [[ $1 =~ ^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){3}$ ]]; }
# all_valid CODES...: every one has the format, and there is at least one.
all_valid() {
    [ $# -gt 0 ] || return 1
    local c
    for c in "$@"; do valid_code "$c" || return 1; done
}
distinct() { [ "$(printf '%s\n' "$@" | sort -u | wc -l)" -eq $# ]; }
# in_store TEXT: TEXT occurs somewhere in the store file or its WAL.
in_store() { cat "$db" "$db-wal" 2>/dev/null | grep -a -q -F -- "$1"; }
# none_in_store CODES...: neither the code as shown nor without dashes is in the store.
none_in_store() {
    local c
    for c in "$@"; do
        in_store "$c" && return 1
        in_store "${c//-/}" && return 1
    done
    return 0
}
# in_audit TEXT: number of audit events with TEXT in any field.
in_audit() {
    sqlite3 "$db" "SELECT count(*) FROM audit WHERE instr(at || host || service || tty || rhost
        || user || actor || event || method || result || reason, '$1') > 0"
}
failures_of() { sq "SELECT COALESCE((SELECT failures FROM login_state WHERE login = '$1'), 0)"; }
# vjson FIELD: a field of the last verify --json output.
vjson() { jq -r ".$1" "$work/out"; }

"$tool" --config "$conf" init >/dev/null 2>&1 </dev/null || { echo "Bail out! init failed"; exit 1; }

S_TARO=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
S_HANAKO=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
S_SABURO=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U
S_SHIRO=KRUGS4ZANFZSAYJAONSWG4TFOQQGWZLZ
S_GORO=ONSWG4TFOQQG63TFEBTG64RAM5XXE3YK
S_ROKURO=NRXWO2LOEBZWKY3SMV2CA5DXN4QQ2AAA
S_ROKURO2=MJQWG23VOAQHGZLDOJSXIIDUNBZGKZJA

# ---- add prints recovery codes: default count, format, distinct, only hashes stored

expect_exit "add taro" 0 --config "$conf" add taro --staff-id 2001 --name '山田 太郎' \
    --secret $S_TARO --code "$(totp $S_TARO)"
cp "$work/out" "$work/taro-add.txt"
mapfile -t taro_codes < <(codes_of "$work/taro-add.txt")
is "add: 10 recovery codes printed (the default)" "${#taro_codes[@]}" 10
check "add: every code is 4 groups of 4 without 0, O, 1 or I" all_valid "${taro_codes[@]}"
check "add: the codes are all different" distinct "${taro_codes[@]}"
is "add: 10 recovery codes stored" \
    "$(sq "SELECT count(*) FROM codes WHERE login='taro' AND kind='recovery' AND used_at=0 AND voided_at=0")" 10
is "add: stored as 16-byte salt and 32-byte hash" \
    "$(sq "SELECT count(*) FROM codes WHERE login='taro' AND length(salt)=16 AND length(hash)=32")" 10
check "the store search finds what is there (taro's name)" in_store '山田 太郎'
check "add: no code text in the store file" none_in_store "${taro_codes[@]}"
check "the audit search finds what is there" [ "$(in_audit 'enrolled (imported secret)')" -eq 1 ]
is "add: no code text in the audit log" "$(in_audit "${taro_codes[0]}")" 0

SUDO_USER=kanri01 expect_exit "add hanako --json" 0 --config "$conf" add hanako --staff-id 2002 \
    --name '佐藤 花子' --secret $S_HANAKO --no-verify --json
cp "$work/out" "$work/hanako.json"
is "add --json: output is one JSON object" "$(jq -r type "$work/hanako.json")" object
is "add --json: recovery_codes is an array of 10" \
    "$(jq -r '.recovery_codes | if type == "array" then length else "not an array" end' "$work/hanako.json")" 10
mapfile -t hanako_codes < <(jq -r '.recovery_codes[]?' "$work/hanako.json")
check "add --json: every code has the format" all_valid "${hanako_codes[@]}"
check "add --json: the codes are all different" distinct "${hanako_codes[@]}"
check "add --json: no code text in the store file" none_in_store "${hanako_codes[@]}"
is "add: codes created by the acting administrator" \
    "$(sq "SELECT DISTINCT created_by FROM codes WHERE login='hanako'")" kanri01

expect_exit "add with recovery_codes = 4" 0 --config "$conf4" add yonro --staff-id 2004 \
    --name '四郎' --no-verify --json
is "recovery_codes = 4: four codes" "$(jq -r '.recovery_codes | length' "$work/out")" 4
is "recovery_codes = 4: four stored" "$(sq "SELECT count(*) FROM codes WHERE login='yonro'")" 4

expect_exit "add with recovery_codes = 0" 0 --config "$conf0" add jiro --staff-id 2003 \
    --name '次郎' --no-verify
check "recovery_codes = 0: no codes printed" sh -c "! grep -q 'Recovery codes' '$work/out'"
is "recovery_codes = 0: nothing listed" "$(codes_of "$work/out" | wc -l)" 0
is "recovery_codes = 0: none stored" "$(sq "SELECT count(*) FROM codes WHERE login='jiro'")" 0
expect_exit "add --json with recovery_codes = 0" 0 --config "$conf0" add jiro2 --staff-id 2013 \
    --name '次郎二' --no-verify --json
is "recovery_codes = 0, --json: recovery_codes left out" "$(jq -r 'has("recovery_codes")' "$work/out")" false

# ---- verify: TOTP once, replay, wrong code, JSON, unknown user, input on stdin

c=$(totp $S_HANAKO)
expect_exit "verify hanako with oathtool's code" 0 --config "$conf" verify hanako "$c"
grep_out "verify: says accepted (totp)" "Accepted (totp) for hanako"
is "verify: step recorded" "$(sq "SELECT last_step >= $(($(date +%s) / 30 - 1)) FROM credentials WHERE login='hanako'")" 1
is "verify: audit event auth/totp/success, the administrator as actor" \
    "$(sq "SELECT event || ' ' || method || ' ' || result || ' ' || user || ' ' || actor FROM audit ORDER BY seq DESC LIMIT 1")" \
    "auth totp success hanako $me"
is "verify: the code is not in the audit log" "$(in_audit "$c")" 0
expect_exit "verify: the same code again is refused" 1 --config "$conf" verify hanako "$c" --json
is "replay --json: accepted false" "$(vjson accepted)" false
is "replay --json: reason" "$(vjson reason)" "code already used"
is "replay: counted" "$(failures_of hanako)" 1
is "replay: audit event says so" \
    "$(sq "SELECT result || ' ' || reason FROM audit ORDER BY seq DESC LIMIT 1")" "failure code already used"

w=$(wrong_totp $S_HANAKO)
expect_exit "verify: wrong code" 1 --config "$conf" verify hanako "$w" --json
is "verify --json: exactly the keys user, accepted, method, reason, locked" \
    "$(jq -c 'keys' "$work/out")" '["accepted","locked","method","reason","user"]'
is "wrong code --json: accepted" "$(vjson accepted)" false
is "wrong code --json: method" "$(vjson method)" totp
is "wrong code --json: reason" "$(vjson reason)" "wrong code"
is "wrong code --json: locked" "$(vjson locked)" false
is "wrong code: failure counter up" "$(failures_of hanako)" 2
expect_exit "verify: wrong code, text" 1 --config "$conf" verify hanako "$w"
grep_out "verify: says refused and why" "Refused for hanako: wrong code"
is "wrong code again: counter up" "$(failures_of hanako)" 3

expect_exit "verify: unknown user" 3 --config "$conf" verify nobody 123456
expect_exit "verify: no user" 2 --config "$conf" verify
expect_exit "verify: bad login" 2 --config "$conf" verify 'a/b' 123456
expect_exit "verify: too many arguments" 2 --config "$conf" verify hanako 123456 654321

c=$(totp $S_HANAKO 30)
printf '%s\n' "$c" | "$tool" --config "$conf" verify hanako --json >"$work/out" 2>"$work/err"
is "verify: code read from standard input (exit)" "$?" 0
is "verify: code from stdin accepted" "$(vjson accepted)" true
is "success clears the failure counter" "$(failures_of hanako)" 0

# ---- recovery codes at verify: once each, lower case, spaces

expect_exit "verify: a recovery code" 0 --config "$conf" verify hanako "${hanako_codes[0]}" --json
is "recovery code --json: accepted" "$(vjson accepted)" true
is "recovery code --json: method recovery" "$(vjson method)" recovery
is "recovery code: marked used" \
    "$(sq "SELECT count(*) FROM codes WHERE login='hanako' AND used_at > 0")" 1
is "recovery code: audit method recovery" \
    "$(sq "SELECT method || ' ' || result FROM audit ORDER BY seq DESC LIMIT 1")" "recovery success"
is "recovery code: not in the audit log" "$(in_audit "${hanako_codes[0]}")" 0
SUDO_USER=kanri08 expect_exit "verify: the same recovery code again" 1 --config "$conf" verify hanako "${hanako_codes[0]}" --json
is "used recovery code: refused" "$(vjson accepted)" false
is "used recovery code: counted" "$(failures_of hanako)" 1
is "verify: audit actor from SUDO_USER" \
    "$(sq "SELECT actor || ' ' || result FROM audit ORDER BY seq DESC LIMIT 1")" "kanri08 failure"

lower=$(printf '%s' "${hanako_codes[1]}" | tr 'A-Z' 'a-z')
expect_exit "verify: a recovery code in lower case" 0 --config "$conf" verify hanako "$lower" --json
is "lower case: method recovery" "$(vjson method)" recovery
is "lower case: the code is marked used" \
    "$(sq "SELECT count(*) FROM codes WHERE login='hanako' AND used_at > 0")" 2
spaced=${hanako_codes[2]//-/ }
expect_exit "verify: a recovery code with spaces instead of dashes" 0 --config "$conf" verify hanako "$spaced" --json
is "spaces: accepted" "$(vjson accepted) $(vjson method) $(vjson reason)" "true recovery accepted"
plain=${hanako_codes[3]//-/}
expect_exit "verify: a recovery code without dashes" 0 --config "$conf" verify hanako "$plain"

# ---- recovery-codes USER: a new set, the old one voided

expect_exit "verify: one of taro's first codes" 0 --config "$conf" verify taro "${taro_codes[0]}"
SUDO_USER=kanri02 expect_exit "recovery-codes taro" 0 --config "$conf" recovery-codes taro
mapfile -t taro_new < <(codes_of "$work/out")
is "recovery-codes: 10 new codes" "${#taro_new[@]}" 10
check "recovery-codes: format" all_valid "${taro_new[@]}"
check "recovery-codes: all different, none from the old set" \
    distinct "${taro_new[@]}" "${taro_codes[@]}"
check "recovery-codes: no code text in the store file" none_in_store "${taro_new[@]}"
is "recovery-codes: the 9 unused old codes voided" \
    "$(sq "SELECT count(*) FROM codes WHERE login='taro' AND voided_at > 0")" 9
is "recovery-codes: the used old code stays used, not voided" \
    "$(sq "SELECT count(*) FROM codes WHERE login='taro' AND used_at > 0 AND voided_at = 0")" 1
is "recovery-codes: 10 usable codes" \
    "$(sq "SELECT count(*) FROM codes WHERE login='taro' AND used_at = 0 AND voided_at = 0")" 10
is "recovery-codes: audit actor from SUDO_USER" \
    "$(sq "SELECT actor || ' ' || method FROM audit WHERE event='recovery-codes' AND user='taro'")" "kanri02 recovery"
is "recovery-codes: codes created by SUDO_USER" \
    "$(sq "SELECT DISTINCT created_by FROM codes WHERE login='taro' AND voided_at = 0 AND used_at = 0")" kanri02
expect_exit "recovery-codes: an old code is refused" 1 --config "$conf" verify taro "${taro_codes[1]}" --json
is "old code: reason" "$(vjson reason)" "wrong code"
expect_exit "recovery-codes: a new code is accepted" 0 --config "$conf" verify taro "${taro_new[4]}"
expect_exit "recovery-codes: the new code a second time is refused" 1 --config "$conf" verify taro "${taro_new[4]}"
expect_exit "recovery-codes --json" 0 --config "$conf" recovery-codes taro --json
is "recovery-codes --json: user and 10 codes" "$(jq -r '.user + " " + (.codes | length | tostring)' "$work/out")" "taro 10"
mapfile -t taro_json < <(jq -r '.codes[]?' "$work/out")
check "recovery-codes --json: format" all_valid "${taro_json[@]}"
expect_exit "recovery-codes --json voided the text set" 1 --config "$conf" verify taro "${taro_new[5]}"
expect_exit "recovery-codes: unknown user" 3 --config "$conf" recovery-codes nobody
expect_exit "recovery-codes: no user" 2 --config "$conf" recovery-codes
expect_exit "recovery-codes: unknown option" 2 --config "$conf" recovery-codes taro --hours 3

expect_exit "recovery_codes = 0: recovery-codes voids and issues none" 0 --config "$conf0" recovery-codes taro
is "recovery_codes = 0: nothing printed as a code" "$(codes_of "$work/out" | wc -l)" 0
is "recovery_codes = 0: no usable code left" \
    "$(sq "SELECT count(*) FROM codes WHERE login='taro' AND used_at = 0 AND voided_at = 0")" 0
expect_exit "recovery_codes = 0: the previous set is refused" 1 --config "$conf" verify taro "${taro_json[0]}"
expect_exit "recovery_codes = 0: recovery-codes --json" 0 --config "$conf0" recovery-codes taro --json
is "recovery_codes = 0, --json: codes is an empty array" "$(jq -c .codes "$work/out")" '[]'

# ---- emergency USER --hours N --reason TEXT

expect_exit "add saburo" 0 --config "$conf0" add saburo --staff-id 2005 --name '三郎' \
    --secret $S_SABURO --no-verify
expect_exit "emergency: --hours 0" 2 --config "$conf" emergency saburo --hours 0 --reason x
expect_exit "emergency: --hours 169" 2 --config "$conf" emergency saburo --hours 169 --reason x
expect_exit "emergency: --hours abc" 2 --config "$conf" emergency saburo --hours abc --reason x
expect_exit "emergency: --hours -1" 2 --config "$conf" emergency saburo --hours -1 --reason x
expect_exit "emergency: no --hours" 2 --config "$conf" emergency saburo --reason x
expect_exit "emergency: no --reason" 2 --config "$conf" emergency saburo --hours 2
expect_exit "emergency: empty --reason" 2 --config "$conf" emergency saburo --hours 2 --reason ''
expect_exit "emergency: no user" 2 --config "$conf" emergency --hours 2 --reason x
is "emergency: refused requests stored nothing" "$(sq "SELECT count(*) FROM codes WHERE login='saburo'")" 0
expect_exit "emergency: unknown user" 3 --config "$conf" emergency nobody --hours 2 --reason x

t0=$(date +%s)
SUDO_USER=kanri03 expect_exit "emergency --json" 0 --config "$conf" emergency saburo --hours 2 \
    --reason 'スマートフォン紛失 (lost phone)' --json
t1=$(date +%s)
cp "$work/out" "$work/em.json"
is "emergency --json: keys code, expires, reason (and user)" \
    "$(jq -c '[.code, .expires, .reason] | map(type)' "$work/em.json")" '["string","string","string"]'
ecode=$(jq -r .code "$work/em.json")
check "emergency: code format" valid_code "$ecode"
is "emergency --json: reason" "$(jq -r .reason "$work/em.json")" 'スマートフォン紛失 (lost phone)'
exp=$(jq -r .expires "$work/em.json")
exp_s=$(date -u -d "$exp" +%s 2>/dev/null || echo 0)
check "emergency --json: expires is 2 hours from now ($exp)" \
    [ "$exp_s" -ge $((t0 + 7200)) -a "$exp_s" -le $((t1 + 7200)) ]
is "emergency: expires_at stored" "$(sq "SELECT expires_at FROM codes WHERE login='saburo' AND kind='emergency'")" "$exp_s"
is "emergency: reason in codes.reason" \
    "$(sq "SELECT reason FROM codes WHERE login='saburo' AND kind='emergency'")" 'スマートフォン紛失 (lost phone)'
is "emergency: audit event with reason and SUDO_USER" \
    "$(sq "SELECT actor || '|' || method || '|' || reason FROM audit WHERE event='emergency' AND user='saburo'")" \
    'kanri03|emergency|スマートフォン紛失 (lost phone)'
is "emergency: created_by SUDO_USER" "$(sq "SELECT created_by FROM codes WHERE login='saburo' AND kind='emergency'")" kanri03
check "emergency: code text not in the store file" none_in_store "$ecode"
is "emergency: code not in the audit log" "$(in_audit "$ecode")" 0
expect_exit "verify: the emergency code" 0 --config "$conf" verify saburo "$ecode" --json
is "emergency verify --json: method emergency" "$(vjson accepted) $(vjson method)" "true emergency"
is "emergency verify: audit method emergency" \
    "$(sq "SELECT method || ' ' || result FROM audit ORDER BY seq DESC LIMIT 1")" "emergency success"
is "emergency code marked used" "$(sq "SELECT used_at > 0 FROM codes WHERE login='saburo' AND kind='emergency'")" 1
expect_exit "verify: the emergency code a second time" 1 --config "$conf" verify saburo "$ecode"

expect_exit "emergency, text" 0 --config "$conf" emergency saburo --hours 168 --reason '災害対応'
grep_out "emergency text: says for whom and until when" "Emergency code for saburo (one login, until "
ecode2=$(sed -n 's/^Emergency code for saburo .*: \([^ ]*\)$/\1/p' "$work/out")
check "emergency text: code format" valid_code "$ecode2"
is "emergency --hours 168: expires in 168 hours" \
    "$(sq "SELECT expires_at - created_at FROM codes WHERE login='saburo' AND reason='災害対応'")" 604800
sq "UPDATE codes SET expires_at = $(($(date +%s) - 60)) WHERE login='saburo' AND reason='災害対応'"
f0=$(failures_of saburo)
expect_exit "verify: an expired emergency code is refused" 1 --config "$conf" verify saburo "$ecode2" --json
is "expired: reason" "$(vjson reason)" "wrong code"
is "expired: counted" "$(failures_of saburo)" $((f0 + 1))
is "expired: not marked used" "$(sq "SELECT used_at FROM codes WHERE login='saburo' AND reason='災害対応'")" 0
c=$(totp $S_SABURO)
expect_exit "saburo's TOTP still works" 0 --config "$conf" verify saburo "$c"

# ---- lock-out after max_failures, unlock

expect_exit "add shiro" 0 --config "$conf3" add shiro --staff-id 2006 --name '四朗' \
    --secret $S_SHIRO --no-verify
w=$(wrong_totp $S_SHIRO)
expect_exit "lock: wrong code 1 of 3" 1 --config "$conf3" verify shiro "$w" --json
is "lock: not locked after 1" "$(vjson locked)" false
expect_exit "lock: wrong code 2 of 3" 1 --config "$conf3" verify shiro "$w" --json
is "lock: not locked after 2" "$(vjson locked)" false
expect_exit "lock: wrong code 3 of 3" 1 --config "$conf3" verify shiro "$w" --json
is "lock: the third failure locks" "$(vjson locked)" true
is "lock: locked in the store" "$(sq "SELECT failures, locked_until > $(date +%s) FROM login_state WHERE login='shiro'")" "3|1"
c=$(totp $S_SHIRO)
expect_exit "lock: the right code is refused while locked" 1 --config "$conf3" verify shiro "$c" --json
is "lock: reason locked out" "$(vjson reason) $(vjson locked)" "locked out true"
is "lock: the refused right code is not counted" "$(failures_of shiro)" 3
expect_exit "show --json while locked" 0 --config "$conf3" show shiro --json
is "show --json: locked" "$(jq -r .login_state.locked "$work/out")" true
expect_exit "unlock: unknown user" 3 --config "$conf3" unlock nobody
expect_exit "unlock: no user" 2 --config "$conf3" unlock
expect_exit "unlock: unknown option" 2 --config "$conf3" unlock shiro --reason x
SUDO_USER=kanri04 expect_exit "unlock shiro" 0 --config "$conf3" unlock shiro
grep_out "unlock: says so" "Unlocked shiro"
is "unlock: failures and lock cleared" \
    "$(sq "SELECT failures || ' ' || locked_until FROM login_state WHERE login='shiro'")" "0 0"
is "unlock: audit actor from SUDO_USER" \
    "$(sq "SELECT actor || ' ' || result FROM audit WHERE event='unlock' AND user='shiro'")" "kanri04 success"
c=$(totp $S_SHIRO 30)
expect_exit "unlock: a fresh code works again" 0 --config "$conf3" verify shiro "$c" --json
is "after unlock: accepted" "$(vjson accepted) $(vjson locked)" "true false"

# ---- revoke USER --reason TEXT

expect_exit "add goro" 0 --config "$conf" add goro --staff-id 2007 --name '五郎' \
    --secret $S_GORO --no-verify --json
mapfile -t goro_codes < <(jq -r '.recovery_codes[]' "$work/out")
expect_exit "goro uses a recovery code" 0 --config "$conf" verify goro "${goro_codes[0]}"
expect_exit "goro gets an emergency code" 0 --config "$conf" emergency goro --hours 4 --reason test --json
goro_em=$(jq -r .code "$work/out")
audit_before=$(sq "SELECT count(*) FROM audit")
expect_exit "revoke: no --reason" 2 --config "$conf" revoke goro
expect_exit "revoke: empty --reason" 2 --config "$conf" revoke goro --reason ''
expect_exit "revoke: no user" 2 --config "$conf" revoke --reason x
expect_exit "revoke: unknown user" 3 --config "$conf" revoke nobody --reason x
is "revoke: refused requests changed nothing" \
    "$(sq "SELECT status FROM staff WHERE login='goro'") $(sq "SELECT count(*) FROM audit")" "active $audit_before"
SUDO_USER=kanri05 expect_exit "revoke goro" 0 --config "$conf" revoke goro --reason '退職 (retired)'
grep_out "revoke: says so" "Revoked every credential and code of goro"
is "revoke: staff status revoked" "$(sq "SELECT status || ' ' || updated_by FROM staff WHERE login='goro'")" "revoked kanri05"
is "revoke: every credential revoked, by whom and why" \
    "$(sq "SELECT status || '|' || revoked_by || '|' || revoked_why || '|' || (revoked_at > 0) FROM credentials WHERE login='goro'")" \
    'revoked|kanri05|退職 (retired)|1'
is "revoke: no active credential left" "$(sq "SELECT count(*) FROM credentials WHERE login='goro' AND status='active'")" 0
is "revoke: unused codes voided" \
    "$(sq "SELECT count(*) FROM codes WHERE login='goro' AND used_at = 0 AND voided_at = 0")" 0
is "revoke: 9 recovery and 1 emergency code voided" \
    "$(sq "SELECT count(*) FROM codes WHERE login='goro' AND voided_at > 0")" 10
is "revoke: the used code stays used" \
    "$(sq "SELECT count(*) FROM codes WHERE login='goro' AND used_at > 0 AND voided_at = 0")" 1
is "revoke: audit event, reason and SUDO_USER" \
    "$(sq "SELECT actor || '|' || reason FROM audit WHERE event='revoke' AND user='goro'")" 'kanri05|退職 (retired)'
c=$(totp $S_GORO)
expect_exit "revoked: verify with the TOTP code refused" 1 --config "$conf" verify goro "$c" --json
is "revoked: not accepted" "$(vjson accepted)" false
expect_exit "revoked: verify with a recovery code refused" 1 --config "$conf" verify goro "${goro_codes[1]}"
expect_exit "revoked: verify with the emergency code refused" 1 --config "$conf" verify goro "$goro_em"
is "revoked: no code was used" "$(sq "SELECT count(*) FROM codes WHERE login='goro' AND used_at > 0")" 1
expect_exit "show --json of a revoked user" 0 --config "$conf" show goro --json
is "show --json: status revoked" "$(jq -r .status "$work/out")" revoked
is "show --json: the credential is listed revoked with the reason" \
    "$(jq -r '.credentials[] | [.method, .status, .revoked_by, .revoked_why, (.revoked_at != null)] | join("|")' "$work/out")" \
    'totp|revoked|kanri05|退職 (retired)|true'
expect_exit "revoked: recovery-codes refused" 2 --config "$conf" recovery-codes goro
expect_exit "revoked: emergency refused" 2 --config "$conf" emergency goro --hours 1 --reason x
is "revoked: no new code stored" "$(sq "SELECT count(*) FROM codes WHERE login='goro' AND voided_at = 0 AND used_at = 0")" 0
expect_exit "revoked: reset refused" 2 --config "$conf" reset goro --no-verify
is "revoked: reset added no credential" "$(sq "SELECT count(*) FROM credentials WHERE login='goro'")" 1
SUDO_USER=kanri06 expect_exit "revoke goro again" 0 --config "$conf" revoke goro --reason other
is "revoke again: the first revocation's who and why are kept" \
    "$(sq "SELECT revoked_by || '|' || revoked_why FROM credentials WHERE login='goro'")" 'kanri05|退職 (retired)'

# ---- reset USER --secret S --code C

expect_exit "add rokuro" 0 --config "$conf" add rokuro --staff-id 2008 --name '六郎' \
    --secret $S_ROKURO --code "$(totp $S_ROKURO)"
expect_exit "reset: unknown user" 3 --config "$conf" reset nobody --secret $S_ROKURO2 --code 123456
expect_exit "reset: no user" 2 --config "$conf" reset --secret $S_ROKURO2 --no-verify
expect_exit "reset: bad secret" 2 --config "$conf" reset rokuro --secret 'NOT*BASE32' --no-verify
w=$(wrong_totp $S_ROKURO2)
expect_exit "reset: wrong --code" 1 --config "$conf" reset rokuro --secret $S_ROKURO2 --code "$w"
is "wrong --code: still one credential, active" \
    "$(sq "SELECT count(*) || ' ' || group_concat(status) FROM credentials WHERE login='rokuro'")" "1 active"
is "wrong --code: no reset event" "$(sq "SELECT count(*) FROM audit WHERE event='reset' AND user='rokuro'")" 0
expect_exit "wrong --code: the old secret still works" 0 --config "$conf" verify rokuro "$(totp $S_ROKURO 30)"
old_id=$(sq "SELECT id FROM credentials WHERE login='rokuro'")
SUDO_USER=kanri07 expect_exit "reset rokuro" 0 --config "$conf" reset rokuro --secret $S_ROKURO2 \
    --code "$(totp $S_ROKURO2)"
grep_out "reset: says the old one no longer works" "New TOTP secret for rokuro"
is "reset: old credential revoked by SUDO_USER" \
    "$(sq "SELECT status || '|' || revoked_by || '|' || (revoked_at > 0) FROM credentials WHERE id=$old_id")" "revoked|kanri07|1"
is "reset: exactly one active credential, the new one" \
    "$(sq "SELECT count(*) || ' ' || (max(id) > $old_id) FROM credentials WHERE login='rokuro' AND status='active'")" "1 1"
is "reset: audit actor from SUDO_USER" \
    "$(sq "SELECT actor || ' ' || method FROM audit WHERE event='reset' AND user='rokuro'")" "kanri07 totp"
is "reset: staff record touched by SUDO_USER" "$(sq "SELECT updated_by FROM staff WHERE login='rokuro'")" kanri07
expect_exit "reset: a code of the old secret is refused" 1 --config "$conf" verify rokuro "$(totp $S_ROKURO 30)" --json
is "old secret: wrong code" "$(vjson reason)" "wrong code"
expect_exit "reset: a code of the new secret is accepted" 0 --config "$conf" verify rokuro "$(totp $S_ROKURO2 30)"
expect_exit "reset --json --no-verify" 0 --config "$conf" reset rokuro --no-verify --json
is "reset --json: user and verified" "$(jq -r '.user + " " + (.verified | tostring)' "$work/out")" "rokuro false"
is "reset twice: two revoked, one active" \
    "$(sq "SELECT group_concat(status) FROM (SELECT status FROM credentials WHERE login='rokuro' ORDER BY id)")" \
    "revoked,revoked,active"

# ---- list: text, --status, --json, --csv

expect_exit "add a name with a comma, quotes and Japanese" 0 --config "$conf" add shichiro \
    --staff-id 2009 --name '鈴木, "七郎"' --dept '総務課' --employment contractor \
    --valid-until 2027-03-31 --no-verify
expect_exit "add a name and a department a spreadsheet would take for formulas" 0 --config "$conf" \
    add kyuro --staff-id 2011 --name '=HYPERLINK("x")' --dept '@SUM(1)' --no-verify
expect_exit "list" 0 --config "$conf" list
staff_count=$(sq "SELECT count(*) FROM staff")
is "list: one line per staff member" "$(wc -l <"$work/out")" "$staff_count"
grep_out "list: goro's line says revoked" '^goro  *2007  *revoked '
grep_out "list: shichiro's line" '^shichiro  *2009  *active  *contractor  *2027-03-31 .*鈴木, "七郎"'
expect_exit "list --status revoked" 0 --config "$conf" list --status revoked
is "list --status revoked: only goro" "$(awk '{print $1}' "$work/out")" goro
expect_exit "list --status active" 0 --config "$conf" list --status active
is "list --status active: all but goro" "$(wc -l <"$work/out")" $((staff_count - 1))
expect_exit "list --status suspended" 0 --config "$conf" list --status suspended
is "list --status suspended: nobody" "$(wc -c <"$work/out")" 0
expect_exit "list --json" 0 --config "$conf" list --json
is "list --json: an array of every staff member" "$(jq -r 'if type == "array" then length else -1 end' "$work/out")" "$staff_count"
is "list --json: sorted by user" "$(jq -c '[.[].user] == ([.[].user] | sort)' "$work/out")" true
is "list --json: shichiro's record" \
    "$(jq -c '.[] | select(.user == "shichiro") | [.staff_id, .name, .department, .employment, .valid_until, .status]' "$work/out")" \
    '["2009","鈴木, \"七郎\"","総務課","contractor","2027-03-31","active"]'
is "list --json: no valid_until is null" "$(jq -r '.[] | select(.user == "taro") | .valid_until' "$work/out")" null
is "list --json: goro revoked" "$(jq -r '.[] | select(.user == "goro") | .status' "$work/out")" revoked
expect_exit "list --status revoked --json" 0 --config "$conf" list --status revoked --json
is "list --status revoked --json" "$(jq -c '[.[].user]' "$work/out")" '["goro"]'
expect_exit "list --csv" 0 --config "$conf" list --csv
is "list --csv: header" "$(head -1 "$work/out")" $'user,staff_id,name,department,employment,valid_until,status\r'
is "list --csv: RFC 4180 quoting of the name" "$(grep '^shichiro,' "$work/out")" \
    $'shichiro,2009,"鈴木, ""七郎""",総務課,contractor,2027-03-31,active\r'
is "list --csv: plain fields unquoted" "$(grep '^taro,' "$work/out")" $'taro,2001,山田 太郎,,regular,,active\r'
is "list --csv: text that looks like a formula gets a ' in front" "$(grep '^kyuro,' "$work/out")" \
    $'kyuro,2011,"\'=HYPERLINK(""x"")","\'@SUM(1)",regular,,active\r'
is "list --csv: every line ends in CRLF" "$(grep -c $'\r$' "$work/out")" $((staff_count + 1))
expect_exit "list: bad --status" 2 --config "$conf" list --status gone
expect_exit "list: --json and --csv" 2 --config "$conf" list --json --csv
expect_exit "list: unexpected argument" 2 --config "$conf" list taro

# ---- the actor: an invalid SUDO_USER is not believed

SUDO_USER='../evil' expect_exit "unlock with a malformed SUDO_USER" 0 --config "$conf" unlock taro
is "malformed SUDO_USER: the real user is the actor" \
    "$(sq "SELECT actor FROM audit WHERE event='unlock' AND user='taro' ORDER BY seq DESC LIMIT 1")" "$me"

# ---- every command refuses a store that others may read

audit_before=$(sq "SELECT count(*) FROM audit")
codes_before=$(sq "SELECT count(*) || '/' || sum(voided_at > 0) || '/' || sum(used_at > 0) FROM codes")
chmod 644 "$db"
c=$(totp $S_SABURO 30)
unsafe() {
    expect_exit "store mode 644: $1" 4 --config "$conf" "$@"
    if grep -q -F "$db" "$work/err"; then ok "store mode 644: $1 names the store"; else
        not_ok "store mode 644: $1 names the store"; sed 's/^/# /' "$work/err"; fi
}
unsafe add hachiro --staff-id 2010 --name '八郎' --no-verify
unsafe reset taro --no-verify
unsafe show taro
unsafe list
unsafe revoke taro --reason x
unsafe unlock shiro
unsafe recovery-codes taro
unsafe emergency taro --hours 1 --reason x
unsafe verify saburo "$c"
chmod 640 "$db"
expect_exit "store mode 640: verify" 4 --config "$conf" verify saburo "$c"
expect_exit "store mode 640: list" 4 --config "$conf" list
chmod 600 "$db"
is "unsafe store: no audit event written" "$(sq "SELECT count(*) FROM audit")" "$audit_before"
is "unsafe store: no code added, voided or used" \
    "$(sq "SELECT count(*) || '/' || sum(voided_at > 0) || '/' || sum(used_at > 0) FROM codes")" "$codes_before"
is "unsafe store: hachiro not added, taro not revoked" \
    "$(sq "SELECT count(*) FROM staff WHERE login='hachiro'") $(sq "SELECT status FROM staff WHERE login='taro'")" "0 active"
expect_exit "store mode 600 again: verify works" 0 --config "$conf" verify saburo "$c"

echo "1..$n"
