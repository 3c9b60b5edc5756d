#!/bin/sh
# The module must export exactly the pam_sm_* entry points: nothing of the core leaks
# into the symbol table of sshd or login. It links libpam and libc only: SQLite,
# libsodium and liboath come with mnzone-engine.so, which must sit beside it and export
# its engine only. Neither the module, the engine, the tool nor mnzoned may know the
# test-only emulated YubiKey, or link libykpers or libusb (libykpers is dlopened when a
# key is needed, see lib/mz_ykpers.c).
so="$MZ_MODULE"
engine="$(dirname "$so")/mnzone-engine.so"
tool="${MZ_BUILDDIR:-.}/enroll/mnzone-enroll"
daemon="${MZ_BUILDDIR:-.}/daemon/mnzoned"
echo "1..9"
if [ ! -f "$so" ]; then echo "not ok 1 - module built at $so"; echo "not ok 2 - exports"; exit 0; fi
echo "ok 1 - module built"
got=$(nm -D --defined-only "$so" | awk '{print $3}' | sort | tr '\n' ' ')
want="pam_sm_acct_mgmt pam_sm_authenticate pam_sm_setcred "
if [ "$got" = "$want" ]; then echo "ok 2 - exports only pam_sm_*"; else echo "not ok 2 - exports: $got"; fi
# needed FILE: the libraries FILE names, without the sanitizers' runtimes (an
# --enable-sanitizers build links them into everything).
needed() {
    readelf -d "$1" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' |
        grep -v -E '^lib(asan|ubsan|lsan)\.so' | sort | tr '\n' ' '
}
got=$(needed "$so")
case $got in
"libc.so.6 libpam.so.0 ") echo "ok 3 - the module links libpam and libc only" ;;
*) echo "not ok 3 - the module links: $got" ;;
esac
if [ -f "$engine" ]; then
    got=$(nm -D --defined-only "$engine" | awk '{print $3}' | sort | tr '\n' ' ')
    if [ "$got" = "mz_engine_direct_3 " ]; then
        echo "ok 4 - mnzone-engine.so beside the module exports its engine only"
    else
        echo "not ok 4 - mnzone-engine.so exports: $got"
    fi
else
    echo "not ok 4 - no mnzone-engine.so beside the module ($engine)"
fi
got=$(needed "$engine")
case $got in
*libsqlite3*) echo "ok 5 - the engine links SQLite (not the module)" ;;
*) echo "not ok 5 - the engine links: $got" ;;
esac
# clean FILE: no libusb or libykpers symbol needed, no mention of the shim or its state.
clean() {
    ! nm -D --undefined-only "$1" 2>/dev/null | grep -q -E ' (libusb_|yk_|ykp_)' &&
        ! grep -a -q -E 'ykshim|MZ_YKSHIM' "$1"
}
n=6
for f in "$so" "$engine" "$tool" "$daemon"; do
    if [ -f "$f" ] && clean "$f"; then
        echo "ok $n - $(basename "$f"): no test hook, libykpers not linked"
    else
        echo "not ok $n - $(basename "$f"): missing, or links libykpers/libusb or names the shim"
    fi
    n=$((n + 1))
done
