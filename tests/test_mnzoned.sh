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
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
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
check "the first one still runs, its socket kept" sh -c "[ -S '$work/run/mnzoned.sock' ] && kill -0 $first"
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

# A socket right under /: its folder is /, not a folder named after the socket.
top="/mz-test-mnzoned-$$.sock"
conf "$top"
run --config "$work/mnzone.conf"
check "a socket in /: listens on it" listening "$top"
check "a socket in /: it is a socket" [ -S "$top" ]
kill -TERM $pid
ended $pid
check "a socket in /: removed at SIGTERM ($st)" sh -c "[ '$st' = 0 ] && [ ! -e '$top' ]"
rm -rf "$top"

# Requests the module never makes, sent with tests/tools/mz-ask.
ask="$B/tests/tools/mz-ask"
OATHTOOL=${OATHTOOL:-oathtool}
secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
sock="$work/run/mnzoned.sock"
policy="digits=6 period=30 window=1 max_failures=5 privileged_max_failures=3 lockout=600"
printf 'store = %s/mnzone.db\nkey_file = %s/mnzone.key\ndaemon_socket = %s\ntime_sync = off\n%s\n' \
    "$work" "$work" "$sock" "$(tr ' ' '\n' <<<"$policy" | sed 's/=/ = /; s/^digits/totp_digits/; s/^period/totp_period/; s/^window/totp_window/')" \
    >"$work/mnzone.conf"
"$tool" --config "$work/mnzone.conf" add taro --staff-id T-1 --name Taro --secret $secret --no-verify >/dev/null ||
    echo "# add failed"
run --config "$work/mnzone.conf"
listening "$sock"
# ask_attempt NOW CODE: an attempt by taro made at NOW with CODE; the reply in $work/reply.
ask_attempt() {
    local hex
    hex=$(printf '%s' "$2" | od -An -tx1 | tr -d ' \n')
    # shellcheck disable=SC2086
    "$ask" "$sock" v=1 op=attempt store="$work/mnzone.db" key_file="$work/mnzone.key" $policy \
        user=taro service=mz-ask privileged=0 now="$1" input="$hex" >"$work/reply" 2>&1
}
audit_rows() { "$tool" --config "$work/mnzone.conf" audit list --json 2>/dev/null | grep -c '"seq"'; }
if command -v "$OATHTOOL" >/dev/null 2>&1; then
    code=$("$OATHTOOL" --totp -b $secret)
    before=$(audit_rows)
    ask_attempt $(($(date +%s) - 60)) "$code"
    check "an attempt made 60 s ago: answered with an error" grep -q '^rc=[1-9]' "$work/reply"
    check "an attempt made 60 s ago: not decided" grep -q "was not decided" "$work/reply"
    check "an attempt made 60 s ago: nothing written ($(audit_rows) audit events, $before before)" \
        [ "$(audit_rows)" = "$before" ]
    ask_attempt $(($(date +%s) + 60)) "$code"
    check "an attempt from 60 s ahead: not decided either" grep -q "was not decided" "$work/reply"
    ask_attempt "$(date +%s)" "$code"
    check "the same code now: accepted (outcome 0)" grep -q '^outcome=0$' "$work/reply"
else
    for what in "60 s ago: answered with an error" "60 s ago: not decided" "60 s ago: nothing written" \
        "from 60 s ahead" "the same code now"; do
        skip "an attempt made $what" "$OATHTOOL not installed"
    done
fi

# Requests that are wrong: answered with an error that says why, nothing decided.
cfgfields="store=$work/mnzone.db key_file=$work/mnzone.key $policy"
# asked NAME WHAT FIELDS...: sends FIELDS; passes when the reply is an error saying WHAT.
asked() {
    local name=$1 what=$2
    shift 2
    "$ask" "$sock" "$@" >"$work/reply" 2>&1
    if grep -q '^rc=[1-9]' "$work/reply" && grep -q "$what" "$work/reply"; then ok "$name"; else
        not_ok "$name"; sed 's/^/# /' "$work/reply"; fi
}
before=$(audit_rows)
# shellcheck disable=SC2086
asked "another protocol version: refused" "unknown protocol version" v=9 op=status $cfgfields user=taro now="$(date +%s)"
# shellcheck disable=SC2086
asked "an unknown request: refused" "unknown request" v=1 op=unlock $cfgfields user=taro now="$(date +%s)"
# shellcheck disable=SC2086
asked "a status without a user: malformed" "malformed request" v=1 op=status $cfgfields now="$(date +%s)"
# shellcheck disable=SC2086
asked "a status for a bad login name: malformed" "malformed request" v=1 op=status $cfgfields user=../x now="$(date +%s)"
# shellcheck disable=SC2086
asked "an attempt without its time: malformed" "malformed request" v=1 op=attempt $cfgfields user=taro service=mz-ask privileged=0 input=313233343536
# shellcheck disable=SC2086
asked "an account question without a time: malformed" "malformed request" v=1 op=account $cfgfields user=taro
check "wrong requests: nothing written ($(audit_rows) audit events, $before before)" [ "$(audit_rows)" = "$before" ]

# A client that is not root gets no answer at all. The socket is root's only (0600 in a
# 0700 folder), so the test opens the way for uid 65534 for a moment.
if command -v setpriv >/dev/null 2>&1 && setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
    modes=$(stat -c %a "$work" "$work/run" "$sock" | tr '\n' ' ')
    chmod 0711 "$work" "$work/run"
    chmod 0666 "$sock"
    if setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$ask"; then
        # shellcheck disable=SC2086
        setpriv --reuid=65534 --regid=65534 --clear-groups timeout 5 "$ask" "$sock" v=1 op=status \
            $cfgfields user=taro now="$(date +%s)" >"$work/reply" 2>&1
        st=$?
        check "a client that is not root: no answer (mz-ask exit $st)" [ "$st" = 1 ]
        check "a client that is not root: connected, then no reply" grep -q "no reply" "$work/reply"
        no_state() { ! grep -q '^state=' "$work/reply"; }
        check "a client that is not root: no field of the store sent" no_state
    else
        skip "a client that is not root" "uid 65534 cannot run $ask"
        skip "a client that is not root: nothing sent" "uid 65534 cannot run $ask"
    fi
    read -r m_work m_run m_sock <<<"$modes"
    chmod "$m_work" "$work"
    chmod "$m_run" "$work/run"
    chmod "$m_sock" "$sock"
else
    skip "a client that is not root" "setpriv cannot drop to uid 65534 here"
    skip "a client that is not root: nothing sent" "setpriv cannot drop to uid 65534 here"
fi

# A request sent a byte every 0.3 s (about a minute for the whole): mnzoned gives it
# 1 s in all, not 1 s per byte, and goes on serving others meanwhile.
status="v=1 op=status store=$work/mnzone.db key_file=$work/mnzone.key $policy user=taro"
# shellcheck disable=SC2086
"$ask" --trickle 300 "$sock" $status now="$(date +%s)" >/dev/null 2>&1 &
slow=$!
sleep 1.5
# shellcheck disable=SC2086
timeout 5 "$ask" "$sock" $status now="$(date +%s)" >"$work/reply" 2>&1
check "a request a byte at a time: another is answered meanwhile" grep -q '^rc=0$' "$work/reply"
for _ in $(seq 50); do kill -0 $slow 2>/dev/null || break; sleep 0.1; done
gone() { ! kill -0 "$1" 2>/dev/null; }
check "a request a byte at a time: cut off" gone $slow
kill $slow 2>/dev/null
kill -TERM $pid
ended $pid
check "after these requests: SIGTERM, exit 0 ($st)" [ "$st" = 0 ]

# mnzoned needs no capability (mnzoned.service: CapabilityBoundingSet= empty): root
# without any, it reads the store, decides an attempt and writes it.
if command -v setpriv >/dev/null 2>&1 && command -v "$OATHTOOL" >/dev/null 2>&1 &&
    setpriv --bounding-set=-all --inh-caps=-all true 2>/dev/null; then
    setpriv --bounding-set=-all --inh-caps=-all --no-new-privs "$daemon" --config "$work/mnzone.conf" \
        >"$work/out" 2>&1 &
    pid=$!
    pids+=("$pid")
    listening "$sock"
    is_capless() { grep -q '^CapEff:[[:space:]]*0*$' "/proc/$pid/status"; }
    check "without capabilities: mnzoned runs with none (CapEff 0)" is_capless
    # shellcheck disable=SC2086
    "$ask" "$sock" $status now="$(date +%s)" >"$work/reply" 2>&1
    check "without capabilities: a status is answered" grep -q '^state=4$' "$work/reply"
    now=$(date +%s)
    near=" $("$OATHTOOL" --totp -b $secret -N "@$((now - 60))" -w 4 | tr '\n' ' ') "
    wrong=000000
    for c in 000000 111111 222222 333333; do case $near in *" $c "*) ;; *) wrong=$c; break ;; esac; done
    before=$(audit_rows)
    ask_attempt "$now" "$wrong"
    check "without capabilities: an attempt is decided (wrong code, outcome 1)" grep -q '^outcome=1$' "$work/reply"
    check "without capabilities: and written ($(audit_rows) audit events, $before before)" \
        [ "$(audit_rows)" -gt "$before" ]
    kill -TERM $pid
    ended $pid
    check "without capabilities: SIGTERM, exit 0 ($st)" [ "$st" = 0 ]
else
    for what in "runs with none" "a status" "an attempt" "and written" "SIGTERM"; do
        skip "without capabilities: $what" "setpriv or $OATHTOOL missing, or no bounding set to drop"
    done
fi

# Replies mnzoned never sends, from a stand-in (tests/tools/fake-mnzoned.py), to a real
# login through the built module (tests/tools/mz-login): anything short of a whole,
# well-formed answer refuses the login. The first case, every field right, logs in:
# it shows the stand-in speaks the protocol, so the refusals are the module's doing.
fake="$MZ_SRCDIR/tests/tools/fake-mnzoned.py"
module="$B/pam_module/.libs/pam_mnzone.so"
status_ok="rc=0;state=4;locked_until=0;has_hwkey=0;key_rc=0;key_msg="
attempt_ok="rc=0;outcome=0;step=1;failures_before=0;locked_now=0;locked_until=0;method=0;last_at=0;failures_since=0;last_host=;last_service="
mkdir -m 0700 "$work/fake" "$work/fake/pam.d"
sed "s|^daemon_socket = .*|daemon_socket = $work/fake/fake.sock|" "$work/mnzone.conf" >"$work/fake/mnzone.conf"
chmod 600 "$work/fake/mnzone.conf"
printf 'auth required %s config=%s\naccount required %s config=%s\n' "$module" "$work/fake/mnzone.conf" \
    "$module" "$work/fake/mnzone.conf" >"$work/fake/pam.d/mz-fake"
# faked NAME EXPECT STATUS ATTEMPT: a login of taro with the stand-in answering status
# and attempt so (account always well); EXPECT is Success or refused. Taro types his
# current code (oathtool) and the stand-in's configuration names the real store: a
# module that went to the store itself after a malformed answer would log him in and
# write an audit event, so "refused" also checks that the store saw nothing.
faked() {
    local name=$1 expect=$2 fpid got events_before
    events_before=$(sqlite3 "$work/mnzone.db" "SELECT count(*) FROM audit")
    python3 "$fake" "$work/fake/fake.sock" "status=$3" "attempt=$4" account="rc=0;state=0" 2>/dev/null &
    fpid=$!
    for _ in $(seq 50); do [ -S "$work/fake/fake.sock" ] && break; sleep 0.1; done
    "$OATHTOOL" --totp -b "$secret" |
        timeout 30 "$B/tests/tools/mz-login" mz-fake taro "$work/fake/pam.d" >"$work/reply" 2>&1
    kill "$fpid" 2>/dev/null
    wait "$fpid" 2>/dev/null
    rm -f "$work/fake/fake.sock"
    got=$(sed -n 's/^pam_authenticate: //p' "$work/reply")
    if { [ "$expect" = Success ] && [ "$got" = Success ]; } ||
        { [ "$expect" = refused ] && [ -n "$got" ] && [ "$got" != Success ] &&
            [ "$(sqlite3 "$work/mnzone.db" "SELECT count(*) FROM audit")" = "$events_before" ]; }; then
        ok "$name ($got)"
    else
        not_ok "$name: pam_authenticate: ${got:-nothing}, expected $expect; audit events $events_before -> $(sqlite3 "$work/mnzone.db" "SELECT count(*) FROM audit")"
        sed 's/^/# /' "$work/reply"
    fi
}
if command -v python3 >/dev/null 2>&1 && [ -x "$B/tests/tools/mz-login" ]; then
    faked "stand-in, every field right: logs in" Success "$status_ok" "$attempt_ok"
    faked "status without the user's state: refused" refused "rc=0;locked_until=0;has_hwkey=0;key_rc=0;key_msg=" "$attempt_ok"
    faked "status without rc: refused" refused "state=4;locked_until=0;has_hwkey=0;key_rc=0;key_msg=" "$attempt_ok"
    faked "status with a state out of range: refused" refused "${status_ok/state=4/state=9}" "$attempt_ok"
    faked "attempt answered with rc and outcome only: refused" refused "$status_ok" "rc=0;outcome=0"
    faked "attempt with an outcome out of range: refused" refused "$status_ok" "${attempt_ok/outcome=0/outcome=99}"
    faked "attempt with outcome -1: refused" refused "$status_ok" "${attempt_ok/outcome=0/outcome=-1}"
    faked "attempt with an error rc and outcome 0: refused" refused "$status_ok" "${attempt_ok/rc=0/rc=5}"
    faked "attempt not answered (hung up): refused" refused "$status_ok" close
else
    for what in "every field right" "status without state" "status without rc" "state out of range" \
        "attempt rc and outcome only" "outcome out of range" "outcome -1" "error rc" "hung up"; do
        skip "stand-in mnzoned: $what" "python3 or mz-login missing"
    done
fi
echo "1..$n"
