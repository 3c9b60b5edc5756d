#!/usr/bin/env bash
# Times logins through pam_authenticate with the built module at several store sizes.
# Usage: bench/run.sh [BUILD_DIR] (default ./build, made by ./quickstart test).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
bench=$build/bench/bench-login
module=$build/pam_module/.libs/pam_mnzone.so
[ -x "$bench" ] || (cd "$build" && make bench/bench-login >/dev/null)
# /var/tmp: on the disk, like a real store, and root's with the sticky bit. Not the build
# folder: the module refuses a store below a folder someone else owns (a checkout in a
# home folder), as it should.
work=$(mktemp -d /var/tmp/mnzone-bench.XXXXXX)
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

# Bulk enrolment: mnzone-enroll import --csv of 100,000 staff with their secrets
# (migration), one transaction.
imp=$work/import
mkdir -m 0700 "$imp"
printf 'store = %s/db/mnzone.db\nkey_file = %s/mnzone.key\ntime_sync = off\n' "$imp" "$imp" >"$imp/mnzone.conf"
tool=("$build/enroll/mnzone-enroll" --config "$imp/mnzone.conf")
"${tool[@]}" init >/dev/null
awk 'BEGIN { srand(1); print "user,staff_id,name,department,employment,valid_until,secret";
             a = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
             for (i = 0; i < 100000; i++) { s = "";
                 for (k = 0; k < 32; k++) s = s substr(a, int(rand() * 32) + 1, 1);
                 printf "u%06d,S%06d,職員 %d,課%d,regular,2027-03-31,%s\n", i, i, i, i % 50, s } }' >"$imp/staff.csv"
start=$(date +%s.%N)
"${tool[@]}" import --csv "$imp/staff.csv" >/dev/null
end=$(date +%s.%N)
echo "import --csv of 100000 staff with secrets: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s"
