#!/bin/sh
# Runs the PAM integration tests (tests/pam/test_pam, libpamtest against the built
# pam_mnzone.so) under valgrind memcheck, with pam_wrapper and the emulated YubiKey preloaded as
# tests/pam/run-pam-tests does. Prints the tests' TAP, then the error counts, and the
# errors whose stack goes through mnzone's own code (lib/, pam_module/).
# Exits 0 only if the tests passed and valgrind found no error.
#
#   tests/valgrind.sh [BUILDDIR]      default: $MZ_BUILDDIR, else ./build next to the sources
#
# BUILDDIR must be a normal build (valgrind cannot run an ASan one). Options:
# --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1, children
# (the tests fork) followed, --keep-debuginfo=yes so that a leak from the module keeps
# its function names after pam_end unloads it. VALGRIND_OPTS adds options; if
# tests/valgrind.supp exists it is used (third-party code only).
# Needs: valgrind, pam_wrapper (libpam-wrapper), libpamtest.

srcdir=$(cd "$(dirname "$0")/.." && pwd) || exit 1
builddir=${1:-${MZ_BUILDDIR:-$srcdir/build}}

if ! command -v valgrind >/dev/null 2>&1; then
    echo "1..0 # SKIP valgrind not installed"
    exit 0
fi
if [ ! -f "$builddir/config.h" ]; then
    echo "Bail out! $builddir is not a configured build folder"
    exit 2
fi
builddir=$(cd "$builddir" && pwd)
program=$builddir/tests/pam/test_pam
module=$builddir/pam_module/.libs/pam_mnzone.so

# Build what the tests need (make check would also run everything else).
if ! make -C "$builddir" -s all tests/pam/test_pam tests/yubikey/ykshim.la >"$builddir/valgrind-build.log" 2>&1; then
    tail -20 "$builddir/valgrind-build.log"
    echo "Bail out! cannot build tests/pam/test_pam (see $builddir/valgrind-build.log)"
    exit 2
fi
if ldd "$program" 2>/dev/null | grep -q libasan; then
    echo "Bail out! $program is an ASan build: give a build folder configured without --enable-sanitizers"
    exit 2
fi

# pam_wrapper as configure found it, else as run-pam-tests looks for it.
wrapper=$(sed -n "s/^PAM_WRAPPER_LIB = //p" "$builddir/Makefile" 2>/dev/null)
if [ ! -f "$wrapper" ]; then
    for word in $(pkg-config --libs pam_wrapper 2>/dev/null); do
        case $word in /*libpam_wrapper.so*) [ -f "$word" ] && wrapper=$word ;; esac
    done
fi
if [ ! -f "$wrapper" ]; then
    echo "1..0 # SKIP pam_wrapper not found"
    exit 0
fi
oathtool=$(sed -n "s/^OATHTOOL = //p" "$builddir/Makefile" 2>/dev/null)
# The emulated YubiKey, preloaded as run-pam-tests does.
shim=$builddir/tests/yubikey/.libs/ykshim.so

# The logs stay in BUILDDIR/tests/valgrind (one per process); the service folder is
# temporary.
logs=$builddir/tests/valgrind
rm -rf "$logs"
mkdir -p "$logs" || exit 2
work=$(mktemp -d "${TMPDIR:-/tmp}/mnzone-valgrind.XXXXXX") || exit 2
mkdir "$work/services"
trap 'rm -rf "$work"' EXIT INT TERM

supp=
[ -f "$srcdir/tests/valgrind.supp" ] && supp="--suppressions=$srcdir/tests/valgrind.supp"

vg="valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite"
vg="$vg --show-leak-kinds=definite --error-exitcode=1 --keep-debuginfo=yes --num-callers=30"
vg="$vg $supp $VALGRIND_OPTS"
# mnzoned as the tests start it, under valgrind too (its log among the others): the
# tests stop it with SIGTERM and require exit status 0, which --error-exitcode spoils.
cat >"$work/mnzoned" <<EOS
#!/bin/sh
exec $vg --log-file="$logs/vg.mnzoned.%p" "$builddir/daemon/mnzoned" "\$@"
EOS
chmod +x "$work/mnzoned"

# Same environment as make check (Makefile.am's AM_TESTS_ENVIRONMENT) and run-pam-tests:
# the suite twice, with the direct engine and through mnzoned.
status=0
for through in 0 1; do
    echo "# ---- the PAM tests $([ $through = 1 ] && echo "through mnzoned" || echo "with the direct engine")"
    rm -rf "$work/services"
    mkdir "$work/services"
    env CMOCKA_MESSAGE_OUTPUT=TAP MZ_BUILDDIR="$builddir" MZ_SRCDIR="$srcdir" \
        PAM_WRAPPER_LIB="$wrapper" OATHTOOL="${oathtool:-oathtool}" MZ_MODULE="$module" \
        MZ_MNZONED="$work/mnzoned" MZ_PAM_DAEMON=$through \
        MZ_YKSHIM="$shim" LD_PRELOAD="$wrapper:$shim" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$work/services" \
        $vg --trace-children=no --child-silent-after-fork=no --log-file="$logs/vg.$through.%p" \
        "$program"
    rc=$?
    [ $rc -eq 0 ] || status=$rc
done

# One log per process (the tests fork). Count what each found.
errors=0 ours=0 definite=0 procs=0
for log in "$logs"/vg.*; do
    case $log in *.ours) continue ;; esac
    [ -f "$log" ] || continue
    procs=$((procs + 1))
    e=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -1)
    errors=$((errors + ${e:-0}))
    d=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d , | tail -1)
    definite=$((definite + ${d:-0}))
    # Split into records (valgrind ends each with an empty "==PID== " line) and keep
    # the error records whose stack goes through mnzone's sources.
    awk '
        function flush() {
            if (rec ~ /(mz_[a-z_]+\.c|pam_mnzone\.c|test_pam\.c)/ &&
                rec !~ /(HEAP|LEAK|ERROR) SUMMARY|Memcheck, a memory error detector|Command:/)
                printf "%s-- end of record\n", rec
            rec = ""
        }
        /^==[0-9]+== *$/ { flush(); next }
        { rec = rec $0 "\n" }
        END { flush() }' "$log" >"$log.ours"
    if [ -s "$log.ours" ]; then
        ours=$((ours + $(grep -c '^-- end of record$' "$log.ours")))
        echo "# ---- $(basename "$log"): errors through mnzone's code"
        sed 's/^/# /' "$log.ours" | head -60
    fi
done

echo "# valgrind logs: $logs"
echo "# valgrind memcheck: $procs process(es), $errors error(s) (leaks: definite only), $definite bytes definitely lost; records through mnzone's code: $ours"
echo "# tests/pam/test_pam exit status under valgrind: $status"
[ "$status" -eq 0 ] && [ "$errors" -eq 0 ]
