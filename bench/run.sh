#!/usr/bin/env bash
# Times logins through pam_authenticate with the built module at several store sizes.
# Usage: bench/run.sh [BUILD_DIR] (default ./build, made by ./quickstart test).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
bench=$build/bench/bench-login
module=$build/pam_module/.libs/pam_mnzone.so
[ -x "$bench" ] || (cd "$build" && make bench/bench-login >/dev/null)
work=$(mktemp -d "$build/bench-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(uname -r), $(df -T "$work" | awk 'NR==2 {print $2}') at $work"
printf '%-10s %-8s %-14s %s\n' staff logins us/login enrol_s
for staff in 100 10000 100000; do
    logins=$(( staff < 2000 ? staff * 3 : 2000 ))
    out=$("$bench" "$work/s$staff" "$staff" "$logins" "$module")
    eval "$(echo "$out" | tr ' ' '\n' | grep -E '^(us_per_login|enrol_s|failed)=')"
    [ "$failed" = 0 ] || { echo "bench: $failed logins failed" >&2; exit 1; }
    printf '%-10s %-8s %-14s %s\n' "$staff" "$logins" "$us_per_login" "$enrol_s"
done
