#!/bin/sh
# The Debian packages: builds libpam-mnzone and mnzone-enroll from a clean copy of the
# tree with dpkg-buildpackage (tests off: the suite has run already), then checks what
# they hold, their dependencies and maintainer scripts, the pam-auth-update profile
# (run through the real pam-auth-update on a scratch root, never /etc), mnzoned's
# systemd unit, the packaged module, engine, tool and daemon, and lintian. TAP output.
#   MZ_SRCDIR   the source tree (default: this script's ..); a git checkout is copied
#               as git sees it (tracked and untracked files, not ignored ones)
#   MZ_KEEP=1   keep the scratch folder and say where it is
# Skips when dpkg-buildpackage or debhelper is missing (apt-get install debhelper
# dpkg-dev fakeroot lintian).

for need in dpkg-buildpackage dh dpkg-deb dpkg-architecture; do
    if ! command -v "$need" >/dev/null 2>&1; then
        echo "1..0 # SKIP $need not installed (apt-get install debhelper dpkg-dev)"
        exit 0
    fi
done

srcdir=${MZ_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
if [ ! -f "$srcdir/debian/control" ]; then
    echo "1..0 # SKIP no debian/ in $srcdir"
    exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mz-pkg.XXXXXX") || {
    echo "Bail out! cannot create a temporary directory"
    exit 1
}
if [ "${MZ_KEEP:-0}" = 1 ]; then
    trap 'echo "# kept $tmp"' EXIT
else
    trap 'rm -rf "$tmp"' EXIT
fi
trap 'exit 1' HUP INT TERM

echo "1..22"
n=0
# result STATUS DESCRIPTION: one TAP line; STATUS 0 is ok.
result() {
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
skip() {
    n=$((n + 1))
    echo "ok $n # SKIP $1"
}
# comment FILE [LINES]: the last LINES (40) lines of FILE as TAP comments.
comment() {
    tail -n "${2:-40}" "$1" | sed 's/^/# /'
}
# missing LIST PATH...: prints the paths that are not lines of LIST.
missing() {
    list=$1
    shift
    for p in "$@"; do
        grep -qxF "$p" "$list" || printf ' %s' "$p"
    done
}

version=$(cd "$srcdir" && dpkg-parsechangelog -S Version 2>/dev/null)
upstream=${version%-*}
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
# Where PAM modules go: PAM's libdir (pam.pc) plus /security, as debian/rules has it;
# /lib/<multiarch>/security on Debian 12.
pamlibdir=$(pkg-config --variable=libdir pam 2>/dev/null)
pammoddir=${pamlibdir:-/lib/$multiarch}/security
tree="$tmp/mnzone-$upstream"
mkdir "$tree"

# --- 1: a clean copy of the tree
if git -C "$srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    how="git ls-files"
    (cd "$srcdir" && git ls-files -z --cached --others --exclude-standard) |
        tr '\0' '\n' | while IFS= read -r f; do
            [ -e "$srcdir/$f" ] && printf '%s\n' "$f"
        done >"$tmp/files"
    (cd "$srcdir" && tar -cf - -T "$tmp/files") | (cd "$tree" && tar -xf -)
    rc=$?
else
    how="the folder without build products"
    (cd "$srcdir" && tar -cf - --exclude=./.git --exclude=./build --exclude='./build-*' \
        --exclude=./.demo --exclude=./autom4te.cache --exclude=./config.status \
        --exclude=./config.log --exclude=./libtool --exclude='./mnzone-*' \
        --exclude=Makefile --exclude='*.o' --exclude='*.lo' --exclude='*.la' \
        --exclude=.libs --exclude=.deps --exclude='*.trs' --exclude='*.log' .) |
        (cd "$tree" && tar -xf -)
    rc=$?
fi
[ "$rc" -eq 0 ] && [ -x "$tree/debian/rules" ] && [ -n "$version" ]
result $? "copy of $srcdir ($how), version $version"

# --- 2: dpkg-buildpackage -b, tests off (they ran already), no debug packages
jobs=$(nproc 2>/dev/null || echo 1)
(
    cd "$tree" || exit 1
    unset MAKEFLAGS MFLAGS MAKELEVEL
    DEB_BUILD_OPTIONS="nocheck noddebs parallel=$jobs" DEB_BUILD_PROFILES=nocheck \
        dpkg-buildpackage -us -uc -b
) >"$tmp/build.log" 2>&1
rc=$?
pam_deb="$tmp/libpam-mnzone_${version}_$arch.deb"
tool_deb="$tmp/mnzone-enroll_${version}_$arch.deb"
if [ "$rc" -eq 0 ] && [ -f "$pam_deb" ] && [ -f "$tool_deb" ]; then
    result 0 "dpkg-buildpackage -us -uc -b builds libpam-mnzone and mnzone-enroll"
    built=yes
else
    result 1 "dpkg-buildpackage -us -uc -b builds libpam-mnzone and mnzone-enroll (exit $rc)"
    comment "$tmp/build.log" 60
    built=no
fi

if [ "$built" = yes ]; then
    dpkg-deb -c "$pam_deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' >"$tmp/pam.list"
    dpkg-deb -c "$tool_deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' >"$tmp/tool.list"
    mkdir "$tmp/root" "$tmp/pam-ctrl" "$tmp/tool-ctrl"
    dpkg-deb -x "$pam_deb" "$tmp/root" && dpkg-deb -x "$tool_deb" "$tmp/root" &&
        dpkg-deb -e "$pam_deb" "$tmp/pam-ctrl" && dpkg-deb -e "$tool_deb" "$tmp/tool-ctrl" ||
        echo "# dpkg-deb -x/-e failed"
fi

# --- 3-5: libpam-mnzone
if [ "$built" = yes ]; then
    # the module finds its engine in its own folder (dladdr), so both must be there
    so="$pammoddir/pam_mnzone.so"
    m=$(missing "$tmp/pam.list" "$so" "$pammoddir/mnzone-engine.so")
    la=$(grep '\.la$' "$tmp/pam.list" "$tmp/tool.list" | tr '\n' ' ')
    [ -z "$m$la" ]
    result $? "libpam-mnzone: $so and mnzone-engine.so beside it, no .la file${m:+ (missing:$m)}${la:+ (has $la)}"
    m=$(missing "$tmp/pam.list" /usr/share/pam-configs/mnzone \
        /usr/share/man/man8/pam_mnzone.8.gz /usr/share/man/man5/mnzone.conf.5.gz \
        /usr/share/man/man8/mnzoned.8.gz /usr/share/doc/libpam-mnzone/copyright \
        /usr/share/locale/ja/LC_MESSAGES/mnzone.mo)
    [ -z "$m" ]
    result $? "libpam-mnzone: pam-auth-update profile, pam_mnzone.8, mnzone.conf.5, mnzoned.8, ja mnzone.mo (the terminals' prompts)${m:+ (missing:$m)}"
    # mnzoned and its unit (lib/systemd/system on Debian 12, usr/lib/... later), which
    # runs the packaged daemon, stays down until the store exists, and is enabled
    why=$(missing "$tmp/pam.list" /usr/sbin/mnzoned)
    unit=$(grep -E '^(/usr)?/lib/systemd/system/mnzoned\.service$' "$tmp/pam.list" | head -n 1)
    if [ -z "$unit" ]; then
        why="$why no unit mnzoned.service;"
    else
        exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$tmp/root$unit")
        [ -n "$exec_start" ] && grep -qxF "$exec_start" "$tmp/pam.list" ||
            why="$why ExecStart '$exec_start' is not in the package;"
        grep -qx 'ConditionPathExists=/var/lib/mnzone/mnzone.db' "$tmp/root$unit" ||
            why="$why no ConditionPathExists on the store;"
    fi
    grep -q "deb-systemd-helper enable .mnzoned\.service" "$tmp/pam-ctrl/postinst" 2>/dev/null ||
        why="$why postinst does not enable mnzoned.service;"
    [ -z "$why" ]
    result $? "libpam-mnzone: /usr/sbin/mnzoned, ${unit:-its unit} (enabled, ConditionPathExists on the store)${why:+ (}${why# }${why:+)}"
else
    skip "libpam-mnzone contents: not built"
    skip "libpam-mnzone contents: not built"
    skip "libpam-mnzone mnzoned: not built"
fi

# --- 6-7: mnzone-enroll
if [ "$built" = yes ]; then
    m=$(missing "$tmp/tool.list" /usr/sbin/mnzone-enroll \
        /usr/share/man/man8/mnzone-enroll.8.gz /usr/share/doc/mnzone-enroll/copyright)
    [ -z "$m" ]
    result $? "mnzone-enroll: the tool, mnzone-enroll.8${m:+ (missing:$m)}"
    ex=/usr/share/doc/mnzone-enroll/examples
    m=$(missing "$tmp/tool.list" $ex/mnzone.conf $ex/pam-configs/mnzone $ex/pam.d/login \
        $ex/pam.d/sshd $ex/pam.d/mnzone-test $ex/pam.d/gdm-password $ex/pam.d/lightdm \
        $ex/pam.d/sudo)
    [ -z "$m" ]
    result $? "mnzone-enroll: examples in $ex${m:+ (missing:$m)}"
else
    skip "mnzone-enroll contents: not built"
    skip "mnzone-enroll contents: not built"
fi

# --- 8: no file in both packages (directories may be shared)
if [ "$built" = yes ]; then
    both=$(cd "$tmp/root" && sort "$tmp/pam.list" "$tmp/tool.list" | uniq -d |
        while IFS= read -r p; do [ -d ".$p" ] || printf ' %s' "$p"; done)
    [ -z "$both" ]
    result $? "no file is shipped by both packages${both:+ (both:$both)}"
else
    skip "overlap: not built"
fi

# --- 9-10: Depends, from ${shlibs:Depends} ${misc:Depends}, and libykpers-1-1, which both
# load with dlopen (so shlibs cannot see it)
# has_deps DEB NAME...: prints the names (package name prefixes) Depends lacks.
has_deps() {
    deb=$1
    shift
    deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/^ *//; s/[ (].*//')
    for d in "$@"; do
        printf '%s\n' "$deps" | grep -q "^$d" || printf ' %s' "$d"
    done
}
if [ "$built" = yes ]; then
    m=$(has_deps "$pam_deb" libc6 libpam0g libpam-runtime liboath libsodium libsqlite3 libykpers-1-1)
    [ -z "$m" ]
    result $? "libpam-mnzone Depends: $(dpkg-deb -f "$pam_deb" Depends)${m:+ (missing:$m)}"
    m=$(has_deps "$tool_deb" libpam-mnzone libc6 liboath libsodium libsqlite3 libqrencode libpng libjson-c libcsv libykpers-1-1)
    [ -z "$m" ]
    result $? "mnzone-enroll Depends: $(dpkg-deb -f "$tool_deb" Depends)${m:+ (missing:$m)}"
else
    skip "Depends: not built"
    skip "Depends: not built"
fi

# --- 11: maintainer scripts: register the profile on configure, take it out of
# /etc/pam.d/common-* on remove (before the module goes); nothing else touches PAM.
if [ "$built" = yes ]; then
    why=""
    grep -q '^ *pam-auth-update --package$' "$tmp/pam-ctrl/postinst" 2>/dev/null ||
        why="$why postinst lacks 'pam-auth-update --package'"
    grep -q 'pam-auth-update --package --remove mnzone' "$tmp/pam-ctrl/prerm" 2>/dev/null ||
        why="$why prerm lacks 'pam-auth-update --package --remove mnzone'"
    if grep -q -e '--enable' -e '--force' "$tmp/pam-ctrl/postinst" "$tmp/pam-ctrl/prerm" 2>/dev/null; then
        why="$why a maintainer script uses --enable or --force"
    fi
    for s in "$tmp"/pam-ctrl/postinst "$tmp"/pam-ctrl/prerm "$tmp"/pam-ctrl/postrm \
        "$tmp"/tool-ctrl/postinst "$tmp"/tool-ctrl/prerm "$tmp"/tool-ctrl/postrm; do
        [ -f "$s" ] && ! sh -n "$s" && why="$why ${s#"$tmp"/}: syntax error"
    done
    [ -z "$why" ]
    result $? "maintainer scripts call pam-auth-update --package (and --remove mnzone in prerm)${why:+ (}${why# }${why:+)}"
else
    skip "maintainer scripts: not built"
fi

# --- 12: the profile as pam-auth-update parses it (see /usr/sbin/pam-auth-update,
# parse_pam_profile): "Field: value" lines, indented continuation lines, no comments
# (a '#' line would become part of a PAM line), no comma in Name (debconf choices).
profile="$tmp/root/usr/share/pam-configs/mnzone"
if [ -f "$profile" ]; then
    why=""
    grep -qx 'Default: no' "$profile" || why="$why not 'Default: no';"
    grep -q '^#' "$profile" && why="$why has comment lines;"
    grep '^Name:' "$profile" | grep -q ',' && why="$why comma in Name;"
    grep -q '^Account' "$profile" && why="$why has Account lines (common-account also runs cron);"
    for t in Auth; do
        grep -qx "$t-Type: Additional" "$profile" || why="$why $t-Type is not Additional;"
        # the lines of field $t: its continuation lines up to the next field
        body=$(awk -v f="$t:" '$1 == f {on = 1; next} /^[^ \t]/ {on = 0} on' "$profile" |
            sed 's/^[[:space:]]*//; s/[[:space:]][[:space:]]*/ /g')
        [ "$body" = "required pam_mnzone.so" ] || why="$why $t is '$body';"
    done
    grep -q -e '^Password' -e '^Session' "$profile" && why="$why has Password or Session lines;"
    [ -z "$why" ]
    result $? "profile: Default no; Auth Additional 'required pam_mnzone.so'; no Account${why:+ (}${why# }${why:+)}"
else
    result 1 "profile: /usr/share/pam-configs/mnzone not in libpam-mnzone"
fi

# --- 13-15: the real pam-auth-update on a scratch root with its own debconf database:
# registering (postinst) enables nothing; --enable puts the module after the password
# (after pam_permit, in the Additional block); --remove (prerm) takes it out again.
if [ -f "$profile" ] && command -v pam-auth-update >/dev/null 2>&1 &&
    [ -f /usr/share/pam/common-auth ] && [ -f /usr/share/pam-configs/unix ] &&
    [ -f /var/lib/dpkg/info/libpam-runtime.templates ]; then
    r="$tmp/pamroot"
    mkdir -p "$r/etc/pam.d" "$r/var/lib/pam" "$r/usr/share/pam-configs" "$r/debconf"
    for t in auth account password session session-noninteractive; do
        cp /usr/share/pam/common-$t "$r/etc/pam.d/"
    done
    cp /usr/share/pam-configs/unix "$r/usr/share/pam-configs/"
    cat >"$r/debconf.conf" <<EOF
Config: configdb
Templates: templatedb

Name: configdb
Driver: File
Filename: $r/debconf/config.dat

Name: templatedb
Driver: File
Mode: 644
Filename: $r/debconf/templates.dat
EOF
    pau() {
        (cd "$r" && DEBCONF_SYSTEMRC="$r/debconf.conf" DEBIAN_FRONTEND=noninteractive \
            DEBCONF_NOWARNINGS=yes pam-auth-update --root "$r" "$@") >>"$tmp/pau.log" 2>&1
    }
    # A stock system first (as libpam-runtime sets it up), then the package arrives.
    pau --package --force && cp "$profile" "$r/usr/share/pam-configs/mnzone" && pau --package
    rc=$?
    if [ "$rc" -eq 0 ] && ! grep -q pam_mnzone "$r"/etc/pam.d/common-*; then
        result 0 "pam-auth-update --package (postinst) registers the profile and enables nothing"
    else
        result 1 "pam-auth-update --package (postinst) registers the profile and enables nothing (exit $rc)"
        comment "$tmp/pau.log"
    fi

    pau --enable mnzone
    rc=$?
    why=""
    grep -q pam_mnzone "$r/etc/pam.d/common-account" && why="$why common-account names the module;"
    for t in auth; do
        # the module's line must come after pam_permit (the end of the Primary block)
        order=$(grep -v '^#' "$r/etc/pam.d/common-$t" |
            awk '/pam_unix\.so/ {print "unix"} /pam_permit\.so/ {print "permit"}
                 /pam_mnzone\.so/ {print $2 "-mnzone"}' | tr '\n' ' ')
        [ "$order" = "unix permit required-mnzone " ] || why="$why common-$t: $order;"
    done
    [ "$rc" -eq 0 ] && [ -z "$why" ]
    result $? "pam-auth-update --enable mnzone: 'required pam_mnzone.so' after pam_unix and pam_permit in common-auth, common-account untouched${why:+ (}${why# }${why:+)}"
    [ -z "$why" ] || grep -v '^#' "$r/etc/pam.d/common-auth" "$r/etc/pam.d/common-account" | sed 's/^/# /'

    # prerm while common-auth was edited by hand: pam-auth-update leaves it (and exits 0);
    # the removal must be refused, or every login would fail once the module is gone
    # (with DPKG_ROOT, debconf reads its configuration and databases below that root)
    sed 's#Filename: '"$r"'#Filename: #' "$r/debconf.conf" >"$r/debconf-root.conf"
    prerm() {
        (cd "$r" && DPKG_ROOT="$r" DEBCONF_SYSTEMRC=/debconf-root.conf DEBIAN_FRONTEND=noninteractive \
            DEBCONF_NOWARNINGS=yes sh "$tmp/pam-ctrl/prerm" remove) >"$tmp/prerm.log" 2>&1
    }
    cp "$r/etc/pam.d/common-auth" "$tmp/common-auth.saved"
    sed -i '/pam_unix\.so/a # a local change inside the block pam-auth-update manages' \
        "$r/etc/pam.d/common-auth"
    prerm
    rc=$?
    if [ "$rc" -ne 0 ] && grep -q pam_mnzone "$r/etc/pam.d/common-auth" &&
        grep -q "not removed: these PAM files still use pam_mnzone.so" "$tmp/prerm.log"; then
        result 0 "prerm refuses the removal while a PAM file still names the module (common-auth edited by hand)"
    else
        result 1 "prerm refuses the removal while a PAM file still names the module (exit $rc)"
        comment "$tmp/prerm.log"
    fi
    cp "$tmp/common-auth.saved" "$r/etc/pam.d/common-auth"
    prerm
    rc=$?
    if [ "$rc" -eq 0 ] && ! grep -q pam_mnzone "$r"/etc/pam.d/common-auth "$r"/etc/pam.d/common-account; then
        result 0 "prerm removes the profile from common-* and lets the removal go on"
    else
        result 1 "prerm removes the profile from common-* and lets the removal go on (exit $rc)"
        comment "$tmp/prerm.log"
    fi

    pau --package --remove mnzone
    rc=$?
    if [ "$rc" -eq 0 ] && ! grep -q pam_mnzone "$r"/etc/pam.d/common-*; then
        result 0 "pam-auth-update --package --remove mnzone (prerm) takes the module out"
    else
        result 1 "pam-auth-update --package --remove mnzone (prerm) takes the module out (exit $rc)"
        comment "$tmp/pau.log"
    fi
else
    skip "pam-auth-update on a scratch root: no profile, pam-auth-update or libpam-runtime files"
    skip "pam-auth-update on a scratch root: as above"
    skip "pam-auth-update on a scratch root: as above"
    skip "pam-auth-update on a scratch root: as above"
    skip "pam-auth-update on a scratch root: as above"
fi

# --- 16-17: the packaged module and engine: each exports only what it must, full RELRO,
# every library found.
# shared_object WHAT FILE EXPORTS: checks FILE, whose dynamic symbols must be EXPORTS
# (sorted, each followed by a blank).
shared_object() {
    if [ -f "$2" ] && command -v nm >/dev/null 2>&1 && command -v readelf >/dev/null 2>&1; then
        why=""
        got=$(nm -D --defined-only "$2" | awk '{print $3}' | sort | tr '\n' ' ')
        [ "$got" = "$3" ] || why="$why exports: $got;"
        readelf -d "$2" | grep -q 'BIND_NOW' || why="$why no BIND_NOW;"
        readelf -l "$2" | grep -q 'GNU_RELRO' || why="$why no RELRO;"
        nf=$(ldd "$2" 2>&1 | grep 'not found' | tr '\n' ' ')
        [ -z "$nf" ] || why="$why $nf"
        [ -z "$why" ]
        result $? "packaged $(basename "$2"): exports only $1, RELRO and BIND_NOW, libraries found${why:+ (}${why# }${why:+)}"
    elif [ -f "$2" ]; then
        skip "packaged $(basename "$2"): nm or readelf not installed (binutils)"
    else
        result 1 "packaged $(basename "$2"): $2 not extracted"
    fi
}
shared_object "pam_sm_*" "$tmp/root$pammoddir/pam_mnzone.so" \
    "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_setcred "
shared_object mz_engine_direct_3 "$tmp/root$pammoddir/mnzone-engine.so" "mz_engine_direct_3 "

# --- 18-19: the packaged tool and daemon run
# runs NAME: the extracted /usr/sbin/NAME --help exits 0 with its usage line.
runs() {
    prog="$tmp/root/usr/sbin/$1"
    if [ -x "$prog" ]; then
        out=$(LC_ALL=C "$prog" --help 2>&1)
        rc=$?
        [ "$rc" -eq 0 ] && printf '%s\n' "$out" | grep -q "^Usage: $1"
        result $? "extracted $1 --help (exit $rc)"
        [ "$rc" -eq 0 ] || printf '%s\n' "$out" | sed 's/^/# /' | head -20
    else
        result 1 "extracted $1: $prog missing"
    fi
}
runs mnzone-enroll
runs mnzoned

# --- 20: lintian: every tag as a comment; an error fails
if [ "$built" = yes ] && command -v lintian >/dev/null 2>&1; then
    changes="$tmp/mnzone_${version}_$arch.changes"
    lintian --pedantic --display-info "$changes" >"$tmp/lintian.log" 2>&1
    rc=$?
    errors=$(grep -c '^E:' "$tmp/lintian.log")
    tags=$(grep -c '^[EWIPX]:' "$tmp/lintian.log")
    [ "$errors" -eq 0 ] && [ "$rc" -eq 0 ]
    result $? "lintian: $errors errors, $tags tags in all, exit $rc (--pedantic --display-info)"
    sed 's/^/# /' "$tmp/lintian.log"
elif [ "$built" = yes ]; then
    skip "lintian not installed"
else
    skip "lintian: not built"
fi
exit 0
