# Helpers shared by the CLI test scripts (sourced, not run). The script sets $tool
# (the program under test) and $work (its scratch folder) before using expect_exit,
# $OATHTOOL before totp and wrong_totp, and prints the plan "1..$n" at the end.
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
# totp SECRET [SECONDS]: the code oathtool gives for now + SECONDS.
totp() { "$OATHTOOL" --totp -b "$1" -N "@$(($(date +%s) + ${2:-0}))"; }
# wrong_totp SECRET: six digits that no step from two before to two after now gives.
wrong_totp() {
    local s=$1 c near now
    now=$(date +%s)
    near=" $("$OATHTOOL" --totp -b "$s" -N "@$((now - 60))" -w 4 | tr '\n' ' ') "
    c=$(totp "$s")
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        c=$(printf '%06d' $(((10#$c + 1) % 1000000)))
        case $near in *" $c "*) ;; *) echo "$c"; return ;; esac
    done
    echo 000000
}
