#!/usr/bin/env bash
# Compares logins through mnzoned between two builds, A and B, on the real disk: each
# build's mnzoned serves its own store (the same users, imported twice) and both run for
# the whole comparison, as in production; batches of logins alternate between them, so
# that background load and the disk's mood hit both alike. Prints each batch and the
# totals: µs per login, mean, median, p90, p99, max.
#
# Usage: bench/ab-mnzoned.sh BUILD_A BUILD_B    (as root)
# Environment: USERS (default 100000), BATCH logins per batch (default 1000), BATCHES per
# build (default 8), KEEP=1 keeps the work folder. Every login is a distinct user's first,
# so USERS must be at least BATCH * BATCHES.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 2 ] || { echo "usage: bench/ab-mnzoned.sh BUILD_A BUILD_B" >&2; exit 2; }
a=$(cd "$1" && pwd)
b=$(cd "$2" && pwd)
users=${USERS:-100000}
batch=${BATCH:-1000}
batches=${BATCHES:-8}
[ "$(id -u)" = 0 ] || { echo "ab-mnzoned: run as root (the store must be root's)" >&2; exit 2; }
[ $((batch * batches)) -le "$users" ] || { echo "ab-mnzoned: USERS < BATCH * BATCHES" >&2; exit 2; }
for d in "$a" "$b"; do
    [ -x "$d/daemon/mnzoned" ] && [ -x "$d/enroll/mnzone-enroll" ] &&
        [ -f "$d/pam_module/.libs/pam_mnzone.so" ] || { echo "ab-mnzoned: $d is not a build" >&2; exit 2; }
done

# /var/tmp: on the disk, like a real store, and root's with the sticky bit. Not the build
# folder: the module refuses a store below a folder someone else owns (a checkout in a
# home folder), as it should.
work=$(mktemp -d /var/tmp/mnzone-ab.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
bench=$a/bench/bench-pam-ab # in the build: /var/tmp may be mounted noexec
gcc -O2 "$top/bench/bench-pam.c" -lpam -loath -o "$bench"
"$bench" make "$users" "$work/users" >/dev/null

# setup NAME BUILD: a store of the users for BUILD's mnzoned, and its PAM service.
setup() {
    local d=$work/$1
    mkdir -m 0700 "$d" "$d/pam.d"
    printf 'store = %s/mnzone.db\nkey_file = %s/mnzone.key\ntime_sync = off\ndaemon_socket = %s/mnzoned.sock\n' \
        "$d" "$d" "$d" >"$d/mnzone.conf"
    "$2/enroll/mnzone-enroll" --config "$d/mnzone.conf" init >/dev/null
    "$2/enroll/mnzone-enroll" --config "$d/mnzone.conf" import --csv "$work/users/staff.csv" >/dev/null
    echo "auth required $2/pam_module/.libs/pam_mnzone.so config=$d/mnzone.conf" >"$d/pam.d/login"
    echo "auth required pam_deny.so" >"$d/pam.d/other"
    "$2/daemon/mnzoned" --config "$d/mnzone.conf" 2>>"$work/mnzoned.log" &
    pids+=($!)
    for _ in $(seq 100); do [ -S "$d/mnzoned.sock" ] && return; sleep 0.05; done
    echo "ab-mnzoned: mnzoned of $2 did not start (see $work/mnzoned.log)" >&2
    exit 1
}
setup A "$a"
setup B "$b"
sync

# stats LABEL FILE: one line of figures from FILE's "µs rc" lines.
stats() {
    sort -n -k1,1 "$2" | awk -v l="$1" '
        { us[NR] = $1; sum += $1; if ($2 != 0) failed++ }
        END { printf "%-12s logins %5d mean %5.0f p50 %5.0f p90 %5.0f p99 %5.0f max %6.0f failed %d\n",
                     l, NR, sum / NR, us[int((NR + 1) / 2)], us[int(NR * 0.9)],
                     us[int(NR * 0.99 + 0.999)], us[NR], failed }'
}
echo "A: $a"
echo "B: $b"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $users users, $batches batches of $batch logins each"
for ((k = 0; k < batches; k++)); do
    for v in A B; do
        "$bench" run -f $((k * batch)) -n $(((k + 1) * batch)) -o "$work/lat.$v.$k" \
            "$work/$v/pam.d" login "$work/users/secrets" "$batch" >/dev/null
        stats "$v batch $k" "$work/lat.$v.$k"
    done
done
for v in A B; do
    cat "$work"/lat.$v.* >"$work/all.$v"
    stats "$v all" "$work/all.$v"
done
