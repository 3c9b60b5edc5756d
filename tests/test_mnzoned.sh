#!/usr/bin/env bash
# mnzoned as an administrator meets it: options and exit codes, the checks of its socket
# and folder at start, one daemon per socket, and its signals. TAP. (Logins through it
# are tests/pam/run-pam-tests-mnzoned and tests/faults.sh.)
set -u
B="$MZ_BUILDDIR"
daemon="$B/daemon/mnzoned"
tool="$B/enroll/mnzone-enroll"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP mnzoned's folder checks need root"; exit 0; fi
work=$(mktemp -d /tmp/mz-daemon.XXXXXX); chmod 0700 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT

# conf SOCKET: a configuration and store in $work, mnzoned's socket at SOCKET.
conf() {
    printf 'store = %s/mnzone.db\nkey_file = %s/mnzone.key\ndaemon_socket = %s\n' \
        "$work" "$work" "$1" >"$work/mnzone.conf"
}
# run ARGS...: mnzoned in the background, its output in $work/out; pid in $pid.
run() { "$daemon" "$@" >"$work/out" 2>&1 & pid=$!; pids+=("$pid"); }
# listening SOCKET: waits up to 5 s for mnzoned to say it serves on SOCKET (the socket
# alone may be an old one, left by a killed mnzoned).
listening() {
    for _ in $(seq 100); do
        [ -S "$1" ] && grep -q "serving .* on $1" "$work/out" && return 0
        sleep 0.05
    done
    return 1
}
# ended PID: waits for it to end (at most 5 s); its exit status in $st.
ended() {
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
    wait "$1" 2>/dev/null
    st=$?
}

"$daemon" --help >"$work/out" 2>&1
check "--help: exit 0" [ $? -eq 0 ]
check "--help: says what it is" grep -q "Usage: mnzoned" "$work/out"
"$daemon" --bogus >/dev/null 2>&1
check "an unknown option: exit 2" [ $? -eq 2 ]
"$daemon" --config "$work/none.conf" >"$work/out" 2>&1
check "no configuration file: exit 4" [ $? -eq 4 ]
check "no configuration file: named" grep -q "none.conf" "$work/out"

conf "$work/run/mnzoned.sock"
"$tool" --config "$work/mnzone.conf" init >/dev/null || echo "# init failed"
mkdir -m 0700 "$work/run"
echo "not a socket" >"$work/run/mnzoned.sock"
"$daemon" --config "$work/mnzone.conf" >"$work/out" 2>&1
check "a file where the socket goes: exit 4" [ $? -eq 4 ]
check "a file where the socket goes: named" grep -q "exists and is not a socket" "$work/out"
check "a file where the socket goes: left alone" grep -q "not a socket" "$work/run/mnzoned.sock"
rm -f "$work/run/mnzoned.sock"
chmod 0777 "$work/run"
"$daemon" --config "$work/mnzone.conf" >"$work/out" 2>&1
check "a socket folder writable by others: exit 4" [ $? -eq 4 ]
chmod 0700 "$work/run"

run --config "$work/mnzone.conf"
first=$pid
check "starts and listens" listening "$work/run/mnzoned.sock"
check "the socket is root's only (0600)" [ "$(stat -c %a "$work/run/mnzoned.sock")" = 600 ]
"$daemon" --config "$work/mnzone.conf" >"$work/out" 2>&1
check "a second mnzoned on the same socket: exit 4" [ $? -eq 4 ]
check "a second mnzoned: says another one runs" grep -q "another mnzoned is running" "$work/out"
check "the first one still runs, its socket kept" [ -S "$work/run/mnzoned.sock" ] && kill -0 $first
kill -TERM $first
ended $first
check "SIGTERM: exit 0 ($st)" [ "$st" = 0 ]
check "SIGTERM: the socket is removed" [ ! -e "$work/run/mnzoned.sock" ]

# killed with -9, it leaves its socket: the next start replaces it
run --config "$work/mnzone.conf"
listening "$work/run/mnzoned.sock"
kill -9 $pid; wait $pid 2>/dev/null
run --config "$work/mnzone.conf"
check "after kill -9: starts again over the old socket" listening "$work/run/mnzoned.sock"
kill -HUP $pid
ended $pid
check "SIGHUP: exit 0 ($st)" [ "$st" = 0 ]
check "SIGHUP: the socket is removed" [ ! -e "$work/run/mnzoned.sock" ]

conf ""
"$daemon" --config "$work/mnzone.conf" >"$work/out" 2>&1
check "daemon_socket empty: exit 4" [ $? -eq 4 ]
echo "1..$n"
