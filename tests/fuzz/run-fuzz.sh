#!/bin/sh
# Builds the libFuzzer targets (make fuzz) and runs each for FUZZ_SECONDS (default 30)
# on a scratch copy of its seed corpus. Speaks TAP: "1..N", then one line per target.
# Exits 0 only if every target ran without a crash, a leak or a broken property.
#
#   tests/fuzz/run-fuzz.sh [BUILDDIR]      FUZZ_SECONDS=10 tests/fuzz/run-fuzz.sh
#
# BUILDDIR is a configured build folder: the argument, else $MZ_BUILDDIR, else the
# current folder if it holds config.h, else ./build next to the sources. Needs clang and
# the libFuzzer runtime (Debian: clang, libclang-rt-14-dev); skips without clang.
# Inputs that crash are kept in BUILDDIR/tests/fuzz/run/<target>/ (never in the sources).

srcdir=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
builddir=${1:-${MZ_BUILDDIR:-}}
if [ -z "$builddir" ]; then
    if [ -f ./config.h ]; then builddir=.; else builddir=$srcdir/build; fi
fi
FUZZ_CC=${FUZZ_CC:-clang}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
MAKE=${MAKE:-make}
export FUZZ_CC FUZZ_SECONDS

if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
    echo "1..0 # SKIP clang not installed"
    exit 0
fi
if [ ! -f "$builddir/config.h" ]; then
    echo "1..0 # SKIP $builddir is not a configured build folder (run configure first)"
    exit 0
fi
builddir=$(cd "$builddir" && pwd)

# libFuzzer's runtime is a separate Debian package: say which one is missing.
probe=$(mktemp -d "${TMPDIR:-/tmp}/mnzone-fuzz-probe.XXXXXX") || exit 1
printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' >"$probe/p.c"
if ! "$FUZZ_CC" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >"$probe/log" 2>&1; then
    rm -rf "$probe"
    echo "1..0 # SKIP $FUZZ_CC cannot link -fsanitize=fuzzer: install libclang-rt-14-dev (libFuzzer runtime)"
    exit 0
fi
rm -rf "$probe"

fuzzmake() {
    "$MAKE" -s -f "$srcdir/tests/fuzz/Makefile.fuzz" SRCDIR="$srcdir" BUILDDIR="$builddir" "$@"
}

targets=$(fuzzmake list) || { echo "Bail out! cannot read the list of fuzz targets"; exit 1; }
n=$(echo $targets | wc -w)

# The build: through "make fuzz" when the build folder's Makefile has it.
log=$builddir/tests/fuzz/build.log
mkdir -p "$builddir/tests/fuzz"
if grep -q '^fuzz:' "$builddir/Makefile" 2>/dev/null; then
    (cd "$builddir" && "$MAKE" fuzz) >"$log" 2>&1
    built=$?
else
    fuzzmake all >"$log" 2>&1
    built=$?
fi
if [ $built -ne 0 ]; then
    echo "1..$n"
    i=0
    for t in $targets; do
        i=$((i + 1))
        echo "not ok $i - $t: the fuzz targets did not build (see $log)"
    done
    tail -20 "$log" | sed 's/^/# /'
    exit 1
fi

echo "1..$n"
fuzzmake run FUZZ_SECONDS="$FUZZ_SECONDS"
