#!/bin/sh
# Builds mnzone with AddressSanitizer + UndefinedBehaviorSanitizer (configure
# --enable-sanitizers, gcc, warnings as errors) in a separate build folder and runs
# `make check` there with leak detection on. Prints the totals and the sanitizer
# reports found in the test logs; exits 0 only if make check passed and no test log
# holds a sanitizer report.
#
#   tests/sanitize.sh [BUILDDIR [CONFIGURE-ARGS...]]
#                                   default BUILDDIR: build-sanitize next to the sources
#
# CFLAGS gets -fno-sanitize-recover=undefined: UBSan reports then stop the program
# (so the test fails), and gcc 12 no longer warns "null format string"
# (-Wformat-truncation, an error with --enable-werror) on the recoverable path UBSan's
# nonnull check adds before vsnprintf(NULL, 0, fmt, ap) in enroll/cmd_check.c.
#
# Leaks: LeakSanitizer runs at the exit of every test program and of mnzone-enroll (a
# leak makes the program exit 1, so a test that checks the status fails).
# tests/pam/run-pam-tests preloads libasan before libpam_wrapper when the test program
# is an ASan build. tests/lsan.supp, if there, is passed to LeakSanitizer (leaks inside
# libpam/pam_wrapper only, never mnzone's own code).
# Needs: gcc's libasan and libubsan (Debian: gcc, libgcc-12-dev pulls them in).

srcdir=$(cd "$(dirname "$0")/.." && pwd) || exit 1
builddir=${1:-$srcdir/build-sanitize}
[ $# -gt 0 ] && shift
cflags="${CFLAGS:--g -O2} -fno-sanitize-recover=undefined"
jobs=$(nproc 2>/dev/null || echo 2)

if [ ! -x "$srcdir/configure" ]; then
    echo "sanitize: $srcdir/configure is missing: run autoreconf -fi (or ./quickstart test) first" >&2
    exit 2
fi
mkdir -p "$builddir" || exit 2
builddir=$(cd "$builddir" && pwd)
cd "$builddir" || exit 2

echo "==> configure --enable-sanitizers --enable-werror CC=gcc CFLAGS='$cflags' $* in $builddir"
if ! "$srcdir/configure" --enable-sanitizers --enable-werror CC=gcc CFLAGS="$cflags" "$@" \
    >configure.log 2>&1; then
    tail -20 configure.log
    echo "sanitize: configure failed (see $builddir/configure.log)"
    exit 2
fi
echo "==> make"
if ! make -j"$jobs" >make.log 2>&1; then
    tail -30 make.log
    echo "sanitize: the build failed (see $builddir/make.log)"
    exit 2
fi

# Every report goes to a file in sanitizer-logs/ (log_path), so that a report from a
# program whose stderr a test throws away (mnzone-enroll in the CLI tests) is still
# counted; the program still exits non-zero (1). detect_leaks is on
# by default on x86_64 Linux and stays on explicitly.
sanlogs=$builddir/sanitizer-logs
rm -rf "$sanlogs"
mkdir -p "$sanlogs" || exit 2
ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:log_path=$sanlogs/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$sanlogs/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
LSAN_OPTIONS="print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
if [ -f "$srcdir/tests/lsan.supp" ]; then
    LSAN_OPTIONS="suppressions=$srcdir/tests/lsan.supp:$LSAN_OPTIONS"
fi
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

echo "==> make check (ASAN_OPTIONS=$ASAN_OPTIONS)"
check=passed
make -j"$jobs" check >check.log 2>&1 || check=failed

# Totals from the .trs files automake wrote (one :test-result: line per TAP case).
totals=$(find tests -name '*.trs' -exec cat {} + 2>/dev/null |
    awk '/^:test-result: (PASS|XFAIL)/ {p++} /^:test-result: (FAIL|XPASS|ERROR)/ {f++}
         /^:test-result: SKIP/ {s++} END {printf "%d %d %d\n", p, f, s}')
set -- $totals
passed=${1:-0} failed=${2:-0} skipped=${3:-0}

# Every sanitizer report of every process (a report in a program whose exit status a
# test ignored would not fail the test: count them all).
reports=0
for log in $(find "$sanlogs" -type f 2>/dev/null | sort); do
    c=$(grep -c -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log")
    [ "$c" -gt 0 ] || continue
    reports=$((reports + c))
    echo "---- $log: $c sanitizer report(s)"
    grep -E -A14 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" | head -40
done
if [ "$failed" -gt 0 ]; then
    for trs in $(grep -l -E '^:test-result: (FAIL|ERROR|XPASS)' $(find tests -name '*.trs') 2>/dev/null); do
        echo "---- failed: ${trs%.trs}.log"
        grep -E '^(not ok|Bail out)' "${trs%.trs}.log" | head -20
    done
fi

echo "make check under ASan+UBSan: $check; sanitizer reports: $reports"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$check" = passed ] && [ "$failed" -eq 0 ] && [ "$reports" -eq 0 ]
