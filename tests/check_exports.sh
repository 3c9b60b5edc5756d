#!/bin/sh
# The module must export exactly the pam_sm_* entry points: nothing of the core leaks
# into the symbol table of sshd or login.
so="$MZ_MODULE"
echo "1..2"
if [ ! -f "$so" ]; then echo "not ok 1 - module built at $so"; echo "not ok 2 - exports"; exit 0; fi
echo "ok 1 - module built"
got=$(nm -D --defined-only "$so" | awk '{print $3}' | sort | tr '\n' ' ')
want="pam_sm_acct_mgmt pam_sm_authenticate pam_sm_setcred "
if [ "$got" = "$want" ]; then echo "ok 2 - exports only pam_sm_*"; else echo "not ok 2 - exports: $got"; fi
