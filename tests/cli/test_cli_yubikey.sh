#!/usr/bin/env bash
# Tests of mnzone-enroll's YubiKey commands through the real libykpers, with the
# emulated key of tests/yubikey preloaded (LD_PRELOAD, this test only): add --method
# yubikey [--program] for a new and for an enrolled staff member, no key plugged in,
# an unprogrammed slot, touch, reset --method yubikey, revoke, show, and the argument
# checks. The key's answers are checked with openssl's HMAC-SHA1, never with mnzone.
# TAP output.
set -u
tool="$MZ_BUILDDIR/enroll/mnzone-enroll"
shim=${MZ_YKSHIM:-$MZ_BUILDDIR/tests/yubikey/.libs/ykshim.so}
OATHTOOL=${OATHTOOL:-oathtool}
for need in "$OATHTOOL" jq sqlite3 openssl od; do
    if ! command -v "$need" >/dev/null 2>&1; then
        echo "1..0 # SKIP $need not installed (./quickstart test installs it)"
        exit 0
    fi
done
if [ ! -f "$shim" ]; then
    echo "Bail out! the emulated YubiKey $shim is not built"
    exit 1
fi
unset SUDO_USER

. "$(dirname "$0")/tap.sh"

work=$(mktemp -d /tmp/mz-cli-yubikey.XXXXXX)
chmod 0700 "$work"
trap 'rm -rf "$work"' EXIT
db="$work/store/mnzone.db"
state="$work/key.state"
conf="$work/mnzone.conf"
printf 'store = %s\nkey_file = %s\ntime_sync = off\n' "$db" "$work/mnzone.key" >"$conf"
conf_notouch="$work/notouch.conf"
printf 'store = %s\nkey_file = %s\ntime_sync = off\nhwkey_touch = no\nhwkey_slot = 1\n' \
    "$db" "$work/mnzone.key" >"$conf_notouch"
chmod 600 "$conf" "$conf_notouch"
export MZ_YKSHIM_STATE=$state

sq() { sqlite3 "$db" "$1"; }
# key_state KEY=VALUE...: a fresh emulated key (written whole, then renamed).
key_state() { printf '%s\n' "$@" >"$state.new" && mv "$state.new" "$state"; }
# key_get KEY: a value of the emulated key's state.
key_get() { sed -n "s/^$1=//p" "$state"; }
# key_set KEY VALUE: changes one value of the state.
key_set() { sed "s/^$1=.*/$1=$2/" "$state" >"$state.new" && mv "$state.new" "$state"; }
# The emulated key in LD_PRELOAD, after ASan's runtime in a sanitizer build.
asan=$(ldd "$tool" 2>/dev/null | awk '/libasan\.so/ { print $3; exit }')
preload=${asan:+$asan:}$shim
# yk_exit NAME CODE ARGS...: expect_exit with the emulated key.
yk_exit() {
    local name=$1 want=$2; shift 2
    LD_PRELOAD=$preload "$tool" "$@" >"$work/out" 2>"$work/err" </dev/null
    local got=$?
    if [ "$got" -eq "$want" ]; then ok "$name (exit $want)"; else
        not_ok "$name: exit $got, expected $want"; sed 's/^/# /' "$work/err"; fi
}
grep_in() {
    if grep -q -- "$2" "$3"; then ok "$1"; else not_ok "$1"; sed 's/^/# /' "$3"; fi
}
# hmac_ok: the key's last answer is HMAC-SHA1 of its last challenge under slot SLOT's
# secret, computed by openssl.
hmac_ok() {
    local want
    want=$(printf '%s' "$(key_get last_challenge)" | xxd_r | openssl dgst -sha1 -mac HMAC \
        -macopt "hexkey:$(key_get "slot$1")" -r | cut -d' ' -f1)
    [ -n "$want" ] && [ "$want" = "$(key_get last_response)" ]
}
xxd_r() { sed 's/../\\x&/g' | xargs -0 printf '%b'; }
# store_hex: the store and its WAL as one hex string, to look for bytes in it.
store_hex() { cat "$db" "$db-wal" 2>/dev/null | od -An -tx1 -v | tr -d ' \n'; }

"$tool" --config "$conf" init >/dev/null 2>&1 </dev/null || { echo "Bail out! init failed"; exit 1; }

# ---- no key plugged in

key_state present=0
yk_exit "add --method yubikey with no key" 4 --config "$conf" add kate --staff-id K-1 \
    --name 'Key Kate' --method yubikey --program
grep_in "no key: says no YubiKey was found" "no YubiKey found: insert the key and try again" "$work/err"
is "no key: nothing stored" "$(sq "SELECT count(*) FROM staff")" 0
unset MZ_YKSHIM_STATE
yk_exit "no emulated key at all (state unset)" 4 --config "$conf" add kate --staff-id K-1 \
    --name 'Key Kate' --method yubikey --program
export MZ_YKSHIM_STATE=$state

# ---- an unprogrammed slot without --program

key_state present=1 serial=4711001
yk_exit "add without --program, slot 2 empty" 4 --config "$conf" add kate --staff-id K-1 \
    --name 'Key Kate' --method yubikey
grep_in "unprogrammed slot: suggests --program" "add --program" "$work/err"
is "unprogrammed slot: nothing stored" "$(sq "SELECT count(*) FROM staff")" 0

# ---- add a new staff member with a key, programming slot 2

key_state present=1 serial=4711001
yk_exit "add kate --method yubikey --program" 0 --config "$conf" add kate --staff-id K-1 \
    --name 'Key Kate' --method yubikey --program
grep_in "add: says which key" "YubiKey serial 4711001 (slot 2) enrolled for kate." "$work/out"
grep_in "add: names the new staff member" "Enrolled kate (Key Kate)." "$work/out"
grep_in "add: asked for a touch first (hwkey_touch = yes)" "Touch the YubiKey now." "$work/err"
is "add: recovery codes printed" "$(grep -c '^ *[0-9][0-9]*\. ' "$work/out")" 10
secret=$(key_get slot2)
check "add: slot 2 holds a 20-byte secret" [ ${#secret} -eq 40 ]
is "add: slot 2 wants touch" "$(key_get slot2_touch)" 1
is "add: slot 2 has HMAC_LT64" "$(key_get slot2_lt64)" 1
is "add: one challenge asked" "$(key_get challenges)" 1
check "the key's answer is openssl's HMAC-SHA1 of the challenge" hmac_ok 2
is "add: the credential" "$(sq "SELECT method, status, hw_serial, hw_slot, length(hw_challenge),
    length(hw_response_hash), secret IS NULL FROM credentials WHERE login = 'kate'")" \
    "yubikey|active|4711001|2|63|32|1"
is "add: the stored challenge is the one the key answered" \
    "$(sq "SELECT lower(hex(hw_challenge)) FROM credentials WHERE login = 'kate'")" \
    "$(key_get last_challenge)"
hex=$(store_hex)
check "add: the key's secret is nowhere in the store" [ "${hex/$secret/}" = "$hex" ]
response=$(key_get last_response)
check "add: the key's response is nowhere in the store" [ "${hex/$response/}" = "$hex" ]
is "add: audit event" "$(sq "SELECT event, method, result, reason FROM audit ORDER BY seq DESC LIMIT 1")" \
    "add|yubikey|success|YubiKey serial 4711001, slot 2, programmed"

yk_exit "show kate" 0 --config "$conf" show kate
grep_in "show: serial and slot" "YubiKey serial 4711001, slot 2" "$work/out"
yk_exit "show kate --json" 0 --config "$conf" show kate --json
is "show --json: serial and slot" "$(jq -r '.credentials[0] | "\(.method) \(.serial) \(.slot)"' "$work/out")" \
    "yubikey 4711001 2"

yk_exit "a second key for kate is refused" 2 --config "$conf" add kate --method yubikey --program
grep_in "second key: says to use reset" "reset USER --method yubikey" "$work/err"
is "second key: the slot was not touched" "$(key_get slot2)" "$secret"
yk_exit "kate's key for another staff member is refused" 2 --config "$conf" add bob --staff-id B-1 \
    --name 'Key Bob' --method yubikey --program
grep_in "kate's key for bob: says whose it is" "this YubiKey (serial 4711001) is kate's" "$work/err"
is "kate's key for bob: the slot was not touched" "$(key_get slot2)" "$secret"
is "kate's key for bob: bob not stored" "$(sq "SELECT count(*) FROM staff WHERE login = 'bob'")" 0

# ---- a key for a staff member enrolled with TOTP; the slot as it is (no --program)

S_TARO=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
expect_exit "add taro with TOTP" 0 --config "$conf" add taro --staff-id T-1 --name '山田 太郎' \
    --secret $S_TARO --code "$(totp $S_TARO)"
key_state present=1 serial=4711002 slot1=000102030405060708090a0b0c0d0e0f10111213 slot1_lt64=1
yk_exit "add taro --method yubikey (slot 1 as it is, no touch)" 0 --config "$conf_notouch" \
    add taro --method yubikey --json
is "add --json: method, serial, slot, programmed" \
    "$(jq -r '"\(.method) \(.serial) \(.slot) \(.programmed) \(.recovery_codes)"' "$work/out")" \
    "yubikey 4711002 1 false null"
is "no --program: slot 1 kept its secret" "$(key_get slot1)" 000102030405060708090a0b0c0d0e0f10111213
is "no --program: nothing programmed" "$(key_get programmed)" 0
check "no --program: the answer is openssl's HMAC-SHA1 under slot 1's secret" hmac_ok 1
check "hwkey_touch = no: no touch asked" [ ! -s "$work/err" ]
is "taro: TOTP and key both active" \
    "$(sq "SELECT group_concat(method, ',') FROM (SELECT method FROM credentials WHERE login = 'taro' AND status = 'active' ORDER BY id)")" \
    "totp,yubikey"
is "taro: no new recovery codes for an added key" \
    "$(sq "SELECT count(*) FROM codes WHERE login = 'taro'")" 10

# ---- reset --method yubikey: a new key, the old one revoked

old_id=$(sq "SELECT id FROM credentials WHERE login = 'kate' AND status = 'active'")
key_state present=1 serial=4711003
yk_exit "reset kate --method yubikey --program" 0 --config "$conf" reset kate --method yubikey --program
is "reset: the old key is revoked with reason reset" \
    "$(sq "SELECT status, revoked_why FROM credentials WHERE id = $old_id")" "revoked|reset"
is "reset: the new key is active" \
    "$(sq "SELECT hw_serial FROM credentials WHERE login = 'kate' AND status = 'active'")" 4711003
is "reset: audit event" "$(sq "SELECT event, method, reason FROM audit ORDER BY seq DESC LIMIT 1")" \
    "reset|yubikey|YubiKey serial 4711003, slot 2, programmed; old key revoked"
expect_exit "reset --method yubikey: unknown user" 3 --config "$conf" reset nobody --method yubikey
expect_exit "add hanako with TOTP" 0 --config "$conf" add hanako --staff-id H-1 --name '花子' \
    --secret JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXA --no-verify
yk_exit "reset --method yubikey for someone without a key" 2 --config "$conf" reset hanako --method yubikey --program
grep_in "reset without a key: says to add one" "add USER --method yubikey" "$work/err"

# ---- a reset that rewrote the key's slot but stored nothing (the key was never touched):
#      the old enrolment of that key cannot answer any more, so it is revoked, not left to
#      count wrong responses until the lock-out

old_id=$(sq "SELECT id FROM credentials WHERE login = 'kate' AND status = 'active'")
key_set touch never
yk_exit "reset kate --program, never touched" 4 --config "$conf" reset kate --method yubikey --program
grep_in "reprogrammed: says the old enrolment was revoked and what to do" \
    "was reprogrammed but not enrolled; its old enrolment no longer works and was revoked" "$work/err"
is "reprogrammed: her key credential revoked, with why" \
    "$(sq "SELECT status, revoked_why FROM credentials WHERE id = $old_id")" \
    "revoked|key reprogrammed; enrolment not finished"
is "reprogrammed: no active credential left" \
    "$(sq "SELECT count(*) FROM credentials WHERE login = 'kate' AND status = 'active'")" 0
is "reprogrammed: audited" "$(sq "SELECT event, method, reason FROM audit ORDER BY seq DESC LIMIT 1")" \
    "revoke|yubikey|key reprogrammed; enrolment not finished"
key_set touch immediate
yk_exit "the same key enrolled again" 0 --config "$conf" add kate --method yubikey --program
is "enrolled again: active" \
    "$(sq "SELECT hw_serial FROM credentials WHERE login = 'kate' AND status = 'active'")" 4711003

# ---- revoke covers the key

yk_exit "revoke kate" 0 --config "$conf" revoke kate --reason 'left'
is "revoke: no active credential left" \
    "$(sq "SELECT count(*) FROM credentials WHERE login = 'kate' AND status = 'active'")" 0
yk_exit "add for a revoked staff member without details" 2 --config "$conf" add kate --method yubikey
key_state present=1 serial=4711004
yk_exit "a revoked staff member enrolled again with a key (rehire)" 0 --config "$conf" add kate \
    --staff-id K-2 --name 'Key Kate' --method yubikey --program
is "rehire: active with the new key" \
    "$(sq "SELECT s.status, c.hw_serial FROM staff s JOIN credentials c USING (login) WHERE login = 'kate' AND c.status = 'active'")" \
    "active|4711004"

# ---- the key's faults at enrolment

key_state present=1 serial=4711005 fail=open
yk_exit "a USB error at enrolment" 4 --config "$conf" add jiro --staff-id J-1 --name '次郎' \
    --method yubikey --program
is "USB error: nothing stored" "$(sq "SELECT count(*) FROM staff WHERE login = 'jiro'")" 0
key_state present=1 serial=4711005 touch=never
yk_exit "never touched at enrolment" 4 --config "$conf" add jiro --staff-id J-1 --name '次郎' \
    --method yubikey --program
grep_in "never touched: says so" "not touched in time" "$work/err"
is "never touched: nothing stored" "$(sq "SELECT count(*) FROM staff WHERE login = 'jiro'")" 0

# ---- argument checks

expect_exit "--method bogus" 2 --config "$conf" add jiro --staff-id J-1 --name x --method bogus
expect_exit "--program without --method yubikey" 2 --config "$conf" add jiro --staff-id J-1 \
    --name x --program --no-verify
expect_exit "--method yubikey with --secret" 2 --config "$conf" add jiro --staff-id J-1 --name x \
    --method yubikey --secret $S_TARO
expect_exit "--method yubikey with --no-verify" 2 --config "$conf" reset taro --method yubikey --no-verify
expect_exit "--method yubikey for an unknown user without details" 3 --config "$conf" add nobody \
    --method yubikey
expect_exit "--method yubikey with only a staff id" 2 --config "$conf" add jiro --staff-id J-1 \
    --method yubikey

echo "1..$n"
