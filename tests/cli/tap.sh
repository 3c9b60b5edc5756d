# TAP helpers shared by the CLI test scripts (sourced, not run). The script sets
# $tool (the program under test) and $work (its scratch folder) before using
# expect_exit, and prints the plan "1..$n" at the end.
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; }
# check NAME COMMAND...: passes when the command succeeds.
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
# is NAME GOT WANT: passes when GOT is WANT, else shows both.
is() {
    if [ "$2" = "$3" ]; then ok "$1"; else
        not_ok "$1"; printf '#   got:      %s\n#   expected: %s\n' "$2" "$3"; fi
}
# expect_exit NAME CODE ARGS...: runs the tool (stdin not a terminal), passes when it
# exits CODE. Output in $work/out and $work/err.
expect_exit() {
    local name=$1 want=$2; shift 2
    "$tool" "$@" >"$work/out" 2>"$work/err" </dev/null
    local got=$?
    if [ "$got" -eq "$want" ]; then ok "$name (exit $want)"; else
        not_ok "$name: exit $got, expected $want"; sed 's/^/# /' "$work/err"; fi
}
