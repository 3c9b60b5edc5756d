#!/usr/bin/env bash
# Fault injection: each case breaks the store, the key, the configuration or the
# filesystem under a real login (mz-login: pam_start_confdir on a sandbox, the built
# module) and checks that the login fails closed, within a bounded time, and that the
# tool says what is wrong. TAP. Codes from oathtool.
set -u
B="$MZ_BUILDDIR"
tool="$B/enroll/mnzone-enroll"
login="$B/tests/tools/mz-login"
module="$MZ_MODULE"
OATHTOOL=${OATHTOOL:-oathtool}
for need in "$OATHTOOL" sqlite3 timeout; do
    command -v "$need" >/dev/null 2>&1 || { echo "1..0 # SKIP $need not installed"; exit 0; }
done
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
mounts=()
work=$(mktemp -d /tmp/mz-faults.XXXXXX); chmod 0700 "$work"
cleanup() { for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done; [ -n "${MZ_KEEP:-}" ] || rm -rf "$work"; }
trap cleanup EXIT

# sandbox DIR [STOREDIR [SOCKET]]: config, key, store with staff member taro, service
# file. SOCKET names mnzoned's socket; without, the logins never ask mnzoned.
sandbox() {
    local d=$1 sd=${2:-$1/store} sock=${3:-}
    mkdir -p -m 0700 "$d" "$sd"
    printf 'store = %s/mnzone.db\nkey_file = %s/mnzone.key\ntime_sync = off\ndaemon_socket = %s\n' \
        "$sd" "$d" "$sock" >"$d/mnzone.conf"
    printf 'auth required %s config=%s/mnzone.conf\n' "$module" "$d" >"$d/svc"
    "$tool" --config "$d/mnzone.conf" init >/dev/null &&
        "$tool" --config "$d/mnzone.conf" add taro --staff-id 1 --name Taro --secret $secret --no-verify >/dev/null
}
# code OFFSET: the TOTP code OFFSET steps from now (oathtool).
code() { "$OATHTOOL" --totp -b $secret -N "now + $(( $1 * 30 )) seconds"; }
# try DIR CODE: one login; prints the pam_authenticate result.
try() { echo "$2" | timeout 30 "$login" svc taro "$1" 2>&1 | sed -n 's/^pam_authenticate: //p'; }
refused() { local r; r=$(try "$1" "$2"); [ -n "$r" ] && [ "$r" != Success ]; }

# --- a corrupted store
d=$work/corrupt; sandbox "$d"
check "baseline: a right code logs in" [ "$(try "$d" "$(code 0)")" = Success ]
sqlite3 "$d/store/mnzone.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
size=$(stat -c %s "$d/store/mnzone.db")
# everything after SQLite's 100-byte header: the schema and every table are garbage
head -c $((size - 100)) /dev/urandom | dd of="$d/store/mnzone.db" bs=100 seek=1 conv=notrunc 2>/dev/null
check "corrupted store: the login is refused" refused "$d" "$(code 1)"
"$tool" --config "$d/mnzone.conf" show taro >/dev/null 2>&1; rc=$?
check "corrupted store: the tool fails (exit $rc, not 0)" [ $rc -ne 0 ]

# --- a truncated store
d=$work/trunc; sandbox "$d"
sqlite3 "$d/store/mnzone.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
truncate -s 1000 "$d/store/mnzone.db"
check "truncated store: the login is refused" refused "$d" "$(code 0)"
"$tool" --config "$d/mnzone.conf" show taro >/dev/null 2>"$d/err"; rc=$?
check "truncated store: the tool exits 4" [ $rc -eq 4 ]

# --- a store locked by another process longer than the busy timeout
d=$work/locked; sandbox "$d"
(echo "BEGIN IMMEDIATE; INSERT INTO login_state (login) VALUES ('holder');"; sleep 9; echo "ROLLBACK;") |
    sqlite3 "$d/store/mnzone.db" &
holder=$!
sleep 1
start=$(date +%s)
r=$(try "$d" "$(code 0)")
took=$(( $(date +%s) - start ))
check "locked store: the login is refused ($r)" [ -n "$r" ] && [ "$r" != Success ]
check "locked store: refused within the busy timeout, not hung (${took}s)" [ "$took" -le 8 ]
wait $holder
check "locked store: after the lock, the same code logs in" [ "$(try "$d" "$(code 0)")" = Success ]

# --- the key file missing, or another key
d=$work/key; sandbox "$d"
mv "$d/mnzone.key" "$d/mnzone.key.away"
check "missing key file: the login is refused" refused "$d" "$(code 0)"
head -c 32 /dev/urandom >"$d/mnzone.key"; chmod 600 "$d/mnzone.key"
check "another key: the login is refused" refused "$d" "$(code 0)"
mv "$d/mnzone.key.away" "$d/mnzone.key"
check "the right key again: the login works" [ "$(try "$d" "$(code 0)")" = Success ]

# --- a 1 MB line in the configuration
d=$work/bigconf; sandbox "$d"
{ cat "$d/mnzone.conf"; printf 'issuer = '; head -c 1048576 /dev/zero | tr '\0' x; echo; } >"$d/big.conf"
cp "$d/big.conf" "$d/mnzone.conf"
check "1 MB config line: the login is refused" refused "$d" "$(code 0)"
"$tool" --config "$d/mnzone.conf" show taro >/dev/null 2>"$d/err"; rc=$?
check "1 MB config line: the tool exits 4" [ $rc -eq 4 ]
grep -q "mnzone.conf" "$d/err" && ok "1 MB config line: the file is named" || not_ok "1 MB config line: the file is named"

# --- kill -9 of logins while others run: the store stays sound, no code twice
d=$work/kill; sandbox "$d"
c=$(code 0)
{
    for i in $(seq 1 40); do
        echo "$c" | "$login" svc taro "$d" >/dev/null 2>&1 &
        p=$!
        if [ $((i % 2)) -eq 0 ]; then sleep 0.00$((RANDOM % 9)); kill -9 $p 2>/dev/null; fi
    done
    wait
} 2>/dev/null
check "kill -9: integrity_check ok" [ "$(sqlite3 "$d/store/mnzone.db" 'PRAGMA integrity_check')" = ok ]
succ=$(sqlite3 "$d/store/mnzone.db" "SELECT count(*) FROM audit WHERE event='auth' AND result='success'")
check "kill -9: the code was accepted at most once ($succ)" [ "$succ" -le 1 ]
"$tool" --config "$d/mnzone.conf" show taro >/dev/null 2>&1
check "kill -9: the tool still reads the store" [ $? -eq 0 ]

# --- mnzoned killed with -9 again and again while logins run: every login still ends
# (mnzoned's answer, the direct engine's, or an error; never by a signal: this found a
# SIGPIPE that killed the login program), the store stays sound, the code is accepted
# at most once, and logins work afterwards, with or without it
mnzoned=$B/daemon/mnzoned
# start_mnzoned DIR: mnzoned on DIR's configuration; its pid in $dpid once it listens.
start_mnzoned() {
    "$mnzoned" --config "$1/mnzone.conf" 2>>"$1/mnzoned.log" &
    dpid=$!
    for _ in $(seq 100); do [ -S "$1/mnzoned.sock" ] && return 0; sleep 0.05; done
    return 1
}
d=$work/kill-mnzoned; sandbox "$d" "$d/store" "$work/kill-mnzoned/mnzoned.sock"
echo "max_failures = 100" >>"$d/mnzone.conf" # 39 replays must not lock taro out
check "mnzoned: starts on the sandbox" start_mnzoned "$d"
c=$(code 0)
start=$(date +%s)
logins=()
{
    for i in $(seq 1 40); do
        { echo "$c" | timeout 30 "$login" svc taro "$d" >"$d/result.$i" 2>&1; echo "status $?" >>"$d/result.$i"; } &
        logins+=($!)
        if [ $((i % 8)) -eq 0 ]; then
            kill -9 $dpid 2>/dev/null
            wait $dpid 2>/dev/null
            start_mnzoned "$d" || echo "mnzoned did not restart" >"$d/restart.$i"
        fi
    done
    wait "${logins[@]}" # not mnzoned, which runs on
} 2>/dev/null
took=$(( $(date +%s) - start ))
ended=$(cat "$d"/result.* | grep -o 'pam_authenticate: ' | wc -l)
check "mnzoned kill -9: all 40 logins ended ($ended, ${took}s)" [ "$ended" -eq 40 ]
for f in "$d"/result.*; do
    grep -q 'pam_authenticate: ' "$f" || { echo "# ${f##*/} (exit ${f##*.}):"; sed 's/^/#   /' "$f"; }
done
check "mnzoned kill -9: integrity_check ok" [ "$(sqlite3 "$d/store/mnzone.db" 'PRAGMA integrity_check')" = ok ]
succ=$(sqlite3 "$d/store/mnzone.db" "SELECT count(*) FROM audit WHERE event='auth' AND result='success'")
check "mnzoned kill -9: the code was accepted at most once ($succ)" [ "$succ" -le 1 ]
check "mnzoned kill -9: the next code logs in through mnzoned" [ "$(try "$d" "$(code 1)")" = Success ]
kill -9 $dpid 2>/dev/null; wait $dpid 2>/dev/null
"$tool" --config "$d/mnzone.conf" add hanako --staff-id 2 --name Hanako --secret $secret --no-verify >/dev/null
r=$(echo "$(code 0)" | timeout 30 "$login" svc hanako "$d" 2>&1 | sed -n 's/^.*pam_authenticate: //p')
check "mnzoned gone: a login works directly ($r)" [ "$r" = Success ]
check "mnzoned: the audit chain verifies" "$tool" --config "$d/mnzone.conf" audit verify

# --- YubiKey logins (the emulated key of tests/yubikey, preloaded here only) killed
# with -9 between the key's answers and the commit: the stored challenge must always be
# one the key can answer, so the next login works
shim=${MZ_YKSHIM:-$B/tests/yubikey/.libs/ykshim.so}
asan=$(ldd "$login" 2>/dev/null | awk '/libasan\.so/ { print $3; exit }')
# with_key DIR COMMAND...: COMMAND with the emulated key of DIR plugged in.
with_key() { local d=$1; shift; MZ_YKSHIM_STATE="$d/key.state" LD_PRELOAD="${asan:+$asan:}$shim" "$@"; }
# key_try DIR: one login with the key; prints the pam_authenticate result.
key_try() { echo | with_key "$1" timeout 60 "$login" svc taro "$1" 2>&1 | sed -n 's/^pam_authenticate: //p'; }
# add_key DIR: gives taro a freshly programmed key (touch needs 2 polls).
add_key() {
    printf 'present=1\nserial=4711001\ntouch=pending:2\n' >"$1/key.state"
    with_key "$1" "$tool" --config "$1/mnzone.conf" add taro --method yubikey --program >/dev/null 2>&1
}
if [ -f "$shim" ]; then
    d=$work/key9; sandbox "$d"
    check "key: enrolled" add_key "$d"
    check "key: baseline login" [ "$(key_try "$d")" = Success ]
    {
        # One at a time (two logins at once on one key is another story: the second
        # finds the challenge replaced). Not through with_key: $! must be mz-login itself,
        # not a subshell whose death would leave the login running.
        for i in $(seq 1 30); do
            echo | MZ_YKSHIM_STATE="$d/key.state" LD_PRELOAD="${asan:+$asan:}$shim" \
                "$login" svc taro "$d" >/dev/null 2>&1 &
            p=$!
            if [ $((i % 2)) -eq 0 ]; then sleep 0.00$((RANDOM % 9)); kill -9 $p 2>/dev/null; fi
            wait $p 2>/dev/null
        done
    } 2>/dev/null
    check "key, kill -9: integrity_check ok" [ "$(sqlite3 "$d/store/mnzone.db" 'PRAGMA integrity_check')" = ok ]
    r=$(key_try "$d")
    check "key, kill -9: the next login works ($r)" [ "$r" = Success ]
else
    skip "key: kill -9" "the emulated YubiKey $shim is not built"
fi

# --- full and read-only filesystems (needs mount: root)
mnt=$work/mnt; mkdir -m 0700 "$mnt"
if mount -t tmpfs -o size=2m,mode=0700 tmpfs "$mnt" 2>/dev/null; then
    mounts+=("$mnt")
    d=$work/full; mkdir -m 0700 "$d"; sandbox "$d" "$mnt"
    check "tmpfs store: baseline login" [ "$(try "$d" "$(code 0)")" = Success ]
    dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null
    check "full filesystem: the login is refused" refused "$d" "$(code 1)"
    rm -f "$mnt/filler"
    mount -o remount,ro "$mnt"
    check "read-only filesystem: the login is refused" refused "$d" "$(code 1)"
    mount -o remount,rw "$mnt"
    check "writable again: the login works" [ "$(try "$d" "$(code 1)")" = Success ]
    if [ -f "$shim" ] && add_key "$d"; then
        dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null
        check "full filesystem: a key login (nothing can be stored) is refused" \
            [ "$(key_try "$d")" != Success ]
        rm -f "$mnt/filler"
        check "room again: the key still logs in (its challenge was kept)" [ "$(key_try "$d")" = Success ]
    else
        skip "full filesystem, key login" "no emulated YubiKey"
        skip "room again, key login" "no emulated YubiKey"
    fi
else
    skip "full filesystem" "mount not permitted"
    skip "read-only filesystem" "mount not permitted"
    skip "full filesystem, key login" "mount not permitted"
    skip "room again, key login" "mount not permitted"
fi

# --- 1,000,000 CSV rows, the last one bad: nothing imported, memory bounded
if [ "${MZ_SLOW_TESTS:-0}" = 1 ]; then
    d=$work/million; sandbox "$d"
    awk 'BEGIN { print "user,staff_id,name,department,employment,valid_until,secret";
                 for (i = 0; i < 999999; i++) printf "u%07d,S%07d,N%d,,,,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n", i, i, i;
                 print "bad/user,X1,N,,,," }' >"$d/big.csv"
    before=$(sqlite3 "$d/store/mnzone.db" 'SELECT count(*) FROM staff')
    start=$(date +%s)
    ( ulimit -v 262144; "$tool" --config "$d/mnzone.conf" import --csv "$d/big.csv" >/dev/null 2>"$d/err" ); rc=$?
    took=$(( $(date +%s) - start ))
    check "1M rows, bad last row: exit 2 under a 256 MiB memory limit (${took}s)" [ $rc -eq 2 ]
    grep -q "big.csv:1000001: user" "$d/err" && ok "1M rows: the bad line is named" || not_ok "1M rows: $(cat "$d/err")"
    check "1M rows: nothing imported" [ "$(sqlite3 "$d/store/mnzone.db" 'SELECT count(*) FROM staff')" = "$before" ]
else
    skip "1M-row CSV" "set MZ_SLOW_TESTS=1 (./quickstart test does)"
fi
echo "1..$n"
