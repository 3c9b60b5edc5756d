#!/bin/sh
# The module must export exactly the pam_sm_* entry points: nothing of the core leaks
# into the symbol table of sshd or login. Neither the module nor the tool may know the
# test-only emulated YubiKey, or link libykpers or libusb (libykpers is dlopened when a
# key is needed, see lib/mz_ykpers.c).
so="$MZ_MODULE"
tool="${MZ_BUILDDIR:-.}/enroll/mnzone-enroll"
echo "1..4"
if [ ! -f "$so" ]; then echo "not ok 1 - module built at $so"; echo "not ok 2 - exports"; exit 0; fi
echo "ok 1 - module built"
got=$(nm -D --defined-only "$so" | awk '{print $3}' | sort | tr '\n' ' ')
want="pam_sm_acct_mgmt pam_sm_authenticate pam_sm_setcred "
if [ "$got" = "$want" ]; then echo "ok 2 - exports only pam_sm_*"; else echo "not ok 2 - exports: $got"; fi
# clean FILE: no libusb or libykpers symbol needed, no mention of the shim or its state.
clean() {
    ! nm -D --undefined-only "$1" 2>/dev/null | grep -q -E ' (libusb_|yk_|ykp_)' &&
        ! grep -a -q -E 'ykshim|MZ_YKSHIM' "$1"
}
n=3
for f in "$so" "$tool"; do
    if [ -f "$f" ] && clean "$f"; then
        echo "ok $n - $(basename "$f"): no test hook, libykpers not linked"
    else
        echo "not ok $n - $(basename "$f"): missing, or links libykpers/libusb or names the shim"
    fi
    n=$((n + 1))
done
