#!/usr/bin/env bash
# Times logins through pam_mnzone, Debian's pam_oath (libpam-oath) and
# pam_google_authenticator (libpam-google-authenticator), with pam_permit as the floor,
# on the same users and secrets, at several numbers of enrolled users, with one process
# and with two processes logging in at once. Prints Markdown tables.
#
# Usage: bench/compare.sh [BUILD_DIR]    (default ./build; run as root)
# Environment: SIZES (default "100 10000 100000"), LOGINS per size and mode (default
# 2000; at most 3 per user), REPLAYS tried again after each run (default 100),
# CHUNK logins per slice (default 200), KEEP=1 keeps the work folder.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$top/build}" && pwd)
sizes=${SIZES:-100 10000 100000}
logins=${LOGINS:-2000}
replays=${REPLAYS:-100}
say() { printf '%s\n' "$*" >&2; }
die() { say "compare: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (modules check that secret files are root's; apt-get)"

# Without a syslog daemon (containers, CI) there is no /dev/log: google-authenticator
# then writes each message to /dev/console (LOG_CONS), about 1 ms each on a serial
# console. Run in a private mount namespace with a stand-in on /dev/log instead, as a
# real machine has journald or rsyslog there. The host's /dev is not touched.
if [ ! -S /dev/log ] && [ -z "${MZ_COMPARE_NS:-}" ] &&
    unshare -m --propagation private true 2>/dev/null; then
    MZ_COMPARE_NS=1 exec unshare -m --propagation private "$BASH" "$0" "$@"
fi

# The modules compared: install them if missing.
pkgs=(libpam-oath libpam-google-authenticator)
missing=()
for p in "${pkgs[@]}"; do
    [ "$(dpkg-query -W -f '${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >&2 ||
        { apt-get update -q >&2 && apt-get install -y -q "${missing[@]}" >&2; } ||
        die "could not install ${missing[*]}"
fi
module_of() { # PACKAGE FILE: where the package put the module
    local files
    files=$(dpkg -L "$1")
    grep -m1 "/security/$2\$" <<<"$files" || die "$1 has no $2"
}
pam_oath=$(module_of libpam-oath pam_oath.so)
pam_ga=$(module_of libpam-google-authenticator pam_google_authenticator.so)
pam_permit=$(module_of libpam-modules pam_permit.so)
pam_deny=$(module_of libpam-modules pam_deny.so)
pam_mnzone=$build/pam_module/.libs/pam_mnzone.so
enroll=$build/enroll/mnzone-enroll
mnzoned=$build/daemon/mnzoned
version() { dpkg-query -W -f '${Version}' "$1"; }

# The driver, and mnzone's module and enrolment tool from the build.
if [ ! -x "$enroll" ] || [ ! -f "$pam_mnzone" ] || [ ! -x "$mnzoned" ]; then make -C "$build" >&2; fi
mkdir -p "$build/bench"
bench=$build/bench/bench-pam
gcc -O2 "$top/bench/bench-pam.c" -lpam -loath -o "$bench"

# /var/tmp: on the disk, like a real store, and root's with the sticky bit. Not the build
# folder: the module refuses a store below a folder someone else owns (a checkout in a
# home folder), as it should.
work=$(mktemp -d /var/tmp/mnzone-compare.XXXXXX)
sink_pid=
cleanup() {
    stop_mnzoned
    [ -z "$sink_pid" ] || { kill "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null || true; }
    [ -z "${MZ_COMPARE_NS:-}" ] || umount /dev 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fs=$(df -T "$work" | awk 'NR == 2 { print $2 " (" $1 ")" }')
case $fs in tmpfs*) say "warning: $work is on tmpfs: fsync costs nothing there" ;; esac

if [ -n "${MZ_COMPARE_NS:-}" ]; then
    mkdir "$work/dev-upper" "$work/dev-work"
    mount -t overlay overlay -o "lowerdir=/dev,upperdir=$work/dev-upper,workdir=$work/dev-work" /dev
    "$bench" sink /dev/log "$work/syslog" &
    sink_pid=$!
    for _ in $(seq 100); do [ -S /dev/log ] && break; sleep 0.05; done
    [ -S /dev/log ] || die "syslog stand-in did not start"
    syslog="a stand-in listener on /dev/log in a private mount namespace (bench-pam sink)"
elif [ -S /dev/log ]; then
    syslog="the machine's own /dev/log"
else
    syslog="none: no /dev/log and no mount namespace (google-authenticator writes to /dev/console)"
fi

mods=(permit mnzone mnzoned oath ga ga-reuse)
declare -A label=(
    [permit]="pam_permit (floor)" [mnzone]="pam_mnzone (direct)"
    [mnzoned]="pam_mnzone + mnzoned" [oath]="pam_oath"
    [ga]="google-authenticator" [ga-reuse]="google-authenticator, no DISALLOW_REUSE")
declare -A res setup_s

# mnzoned on one set of users' store, stopped by cleanup (or stop_mnzoned).
daemons=()
start_mnzoned() { # DIR (of its mnzone.conf)
    "$mnzoned" --config "$1/mnzone.conf" 2>>"$work/mnzoned.log" &
    daemons+=($!)
    for _ in $(seq 100); do [ -S "$1/mnzoned.sock" ] && return; sleep 0.05; done
    die "mnzoned did not start (see $work/mnzoned.log)"
}
stop_mnzoned() {
    local p
    for p in "${daemons[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    daemons=()
}

# One set of users: secrets in every module's format, mnzone's store, PAM services.
prepare() { # SIZE DIR
    local n=$1 d=$2 t
    t=$(date +%s.%N)
    "$bench" make "$n" "$d"
    setup_s[$n:make]=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    # Two stores with the same users, as each module has its own files: the direct
    # engine's (mz) and mnzoned's (mzd), so that neither sees the other's used codes.
    mkdir -m 0700 "$d/mz" "$d/mzd" "$d/pam.d"
    for z in mz mzd; do
        printf 'store = %s/%s/mnzone.db\nkey_file = %s/%s/mnzone.key\ntime_sync = off\ndaemon_socket = %s/%s/mnzoned.sock\n' \
            "$d" $z "$d" $z "$d" $z >"$d/$z/mnzone.conf"
        "$enroll" --config "$d/$z/mnzone.conf" init >/dev/null
        t=$(date +%s.%N)
        "$enroll" --config "$d/$z/mnzone.conf" import --csv "$d/staff.csv" >/dev/null
        sync
        setup_s[$n:import]=$(awk -v a="$t" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    done
    echo "auth required $pam_deny" >"$d/pam.d/other"
    echo "auth required $pam_permit" >"$d/pam.d/permit"
    echo "auth required $pam_mnzone config=$d/mz/mnzone.conf daemon_socket=" >"$d/pam.d/mnzone"
    echo "auth required $pam_mnzone config=$d/mzd/mnzone.conf" >"$d/pam.d/mnzoned"
    start_mnzoned "$d/mzd"
    echo "auth required $pam_oath usersfile=$d/users.oath window=1 digits=6" >"$d/pam.d/oath"
    echo "auth required $pam_ga secret=$d/ga/\${USER} user=root" >"$d/pam.d/ga"
    echo "auth required $pam_ga secret=$d/ga-reuse/\${USER} user=root" >"$d/pam.d/ga-reuse"
    services=$(for m in other "${mods[@]}"; do printf '%-9s %s\n' "$m:" "$(sed "s#$d/#D/#g" "$d/pam.d/$m")"; done)
}

kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }

# The results of one module and mode, from its slices: every login's time and result
# (-o files) and each slice's wall time and replays.
aggregate() { # KEY
    local stats sums
    stats=$(sort -n -k1,1 "$work/lat.$1" | awk '
        { us[NR] = $1; sum += $1; if ($2 != 0) failed++ }
        END { p99 = int(NR * 0.99 + 0.999); if (p99 > NR) p99 = NR
              printf "logins=%d failed=%d us_per_login=%.0f p50_us=%.0f p99_us=%.0f",
                     NR, failed, sum / NR, us[int((NR + 1) / 2)], us[p99] }')
    sums=$(tr ' ' '\n' <"$work/runs.$1" | awk -F= '
        $1 == "wall_s" { wall += $2 } $1 == "replays" { r += $2 }
        $1 == "replays_accepted" { ra += $2 }
        END { printf "wall_s=%.4f replays=%d replays_accepted=%d", wall, r, ra }')
    local line="$stats $sums"
    echo "$line ok_per_s=$(awk -v l="$(kv logins "$line")" -v f="$(kv failed "$line")" \
        -v w="$(kv wall_s "$line")" 'BEGIN { printf "%.0f", (l - f) / w }')"
}

# Each size and mode runs as slices of CHUNK logins, the modules taking turns (the first
# module of each turn rotating), so that they all see the same background load.
chunk=${CHUNK:-200}
load0=$(cut -d' ' -f1-3 /proc/loadavg)
started=$SECONDS
for n in $sizes; do
    l=$((logins < 3 * n ? logins : 3 * n))
    say "== $n users: preparing"
    prepare "$n" "$work/u$n"
    # Two processes: fresh users of the same set, or a second set if too few are left.
    if [ $((2 * l)) -le "$n" ]; then
        two_dir=$work/u$n two_first=$l
    else
        prepare "$n" "$work/u$n-2"
        two_dir=$work/u$n-2 two_first=0
    fi
    for p in 1 2; do
        if [ "$p" = 1 ]; then d=$work/u$n f0=0; else d=$two_dir f0=$two_first; fi
        say "== $n users, $p process(es): $l logins per module in slices of $chunk"
        for ((off = 0, c = 0; off < l; off += chunk, c++)); do
            len=$((l - off < chunk ? l - off : chunk))
            for ((j = 0; j < ${#mods[@]}; j++)); do
                m=${mods[(c + j) % ${#mods[@]}]}
                r=$((replays * len / l))
                [ "$m" = permit ] && r=0
                out=$("$bench" run -p "$p" -f $((f0 + off)) -n $((f0 + l)) -r "$r" \
                    -o "$work/lat.$n:$m:$p" "$d/pam.d" "$m" "$d/secrets" "$len") || true
                [ -n "$out" ] || die "bench-pam run failed for $m at $n users"
                echo "$out" >>"$work/runs.$n:$m:$p"
            done
        done
        for m in "${mods[@]}"; do
            res[$n:$m:$p]=$(aggregate "$n:$m:$p")
            say "$(printf '%-40s %s' "${label[$m]}" "${res[$n:$m:$p]}")"
        done
    done
    stop_mnzoned
    [ "${KEEP:-0}" = 1 ] || rm -rf "$work/u$n" "$work/u$n-2"
done
took=$((SECONDS - started))
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the report ----
get() { kv "$2" "${res[$1]}"; }
fmt() { # KEY: "mean (p50, p99)" plus failures
    local f
    f=$(get "$1" failed)
    printf '%s (%s, %s)' "$(get "$1" us_per_login)" "$(get "$1" p50_us)" "$(get "$1" p99_us)"
    [ "$f" = 0 ] || printf ' **%s failed**' "$f"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

echo "# mnzone against pam_oath and google-authenticator"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')),"
echo "Linux $(uname -r), $fs, work folder $work."
echo "Modules: pam_mnzone from $build, pam_oath $(version libpam-oath),"
echo "pam_google_authenticator $(version libpam-google-authenticator), pam_permit $(version libpam-modules)."
echo "syslog: $syslog."
echo "Load average (1, 5, 15 min) at the start: $load0; at the end: $load1."
echo "Command: \`bench/compare.sh ${1:-build}\` (SIZES=\"$sizes\" LOGINS=$logins REPLAYS=$replays), $took s."
echo
echo "## One process: µs per login, mean (median, p99)"
echo
printf '| users | logins | %s | pam_oath ÷ mnzone (direct; mnzoned) | g-a ÷ mnzone (direct; mnzoned) |\n' \
    "$(for m in "${mods[@]}"; do printf '%s | ' "${label[$m]}"; done | sed 's/ | $//')"
printf '| ---: | ---: |%s ---: | ---: |\n' "$(for _ in "${mods[@]}"; do printf ' ---: |'; done)"
for n in $sizes; do
    printf '| %s | %s |' "$n" "$(get "$n:mnzone:1" logins)"
    for m in "${mods[@]}"; do printf ' %s |' "$(fmt "$n:$m:1")"; done
    z=$(get "$n:mnzone:1" us_per_login) zd=$(get "$n:mnzoned:1" us_per_login)
    printf ' %s; %s | %s; %s |\n' "$(ratio "$(get "$n:oath:1" us_per_login)" "$z")" \
        "$(ratio "$(get "$n:oath:1" us_per_login)" "$zd")" \
        "$(ratio "$(get "$n:ga:1" us_per_login)" "$z")" "$(ratio "$(get "$n:ga:1" us_per_login)" "$zd")"
done
echo
echo "## Two processes logging in at once (users split between them): successful logins per second, µs per login mean (median, p99)"
echo
printf '| users | logins |%s\n' "$(for m in "${mods[@]}"; do printf ' %s |' "${label[$m]}"; done)"
printf '| ---: | ---: |%s\n' "$(for _ in "${mods[@]}"; do printf ' ---: |'; done)"
for n in $sizes; do
    printf '| %s | %s |' "$n" "$(get "$n:mnzone:2" logins)"
    for m in "${mods[@]}"; do printf ' %s/s, %s |' "$(get "$n:$m:2" ok_per_s)" "$(fmt "$n:$m:2")"; done
    echo
done
echo
echo "## Replays: the same user and code again after the run (accepted / tried, one process; two processes)"
echo
printf '| users |%s\n' "$(for m in "${mods[@]:1}"; do printf ' %s |' "${label[$m]}"; done)"
printf '| ---: |%s\n' "$(for _ in "${mods[@]:1}"; do printf ' ---: |'; done)"
for n in $sizes; do
    printf '| %s |' "$n"
    for m in "${mods[@]:1}"; do
        printf ' %s/%s; %s/%s |' "$(get "$n:$m:1" replays_accepted)" "$(get "$n:$m:1" replays)" \
            "$(get "$n:$m:2" replays_accepted)" "$(get "$n:$m:2" replays)"
    done
    echo
done
echo
echo "Setup (not timed in the tables): writing the users' files, and mnzone-enroll import --csv:"
for n in $sizes; do echo "$n users: ${setup_s[$n:make]} s, import ${setup_s[$n:import]} s."; done
echo
big=${sizes##* } small=${sizes%% *}
verdict() { if awk "BEGIN { exit !($1) }"; then echo met; else echo "**not met**"; fi; }
echo "## Targets (issue 7), at $big users, one process"
echo
echo "| target | with mnzoned | | direct engine | |"
echo "| --- | ---: | --- | ---: | --- |"
# target MOD KIND: sets tv (the figure shown) and tt (the test for verdict) for one
# engine's one target.
target() {
    local zb zs r
    zb=$(get "$big:$1:1" us_per_login) zs=$(get "$small:$1:1" us_per_login)
    case $2 in
    abs) tv="$zb µs" tt="$zb <= 500" ;;
    oath) r=$(ratio "$(get "$big:oath:1" us_per_login)" "$zb") tv="${r}×" tt="$r >= 20" ;;
    ga) r=$(ratio "$(get "$big:ga:1" us_per_login)" "$zb") tv="${r}×" tt="$r >= 3" ;;
    flat) r=$(ratio "$zb" "$zs") tv="${r}× ($zs → $zb µs)" tt="$r <= 1.25 && $r >= 0.8" ;;
    esac
}
row() { # TEXT KIND: one line, mnzoned's figure then the direct engine's
    local m out="| $1 |"
    for m in mnzoned mnzone; do
        target "$m" "$2"
        out="$out $tv | $(verdict "$tt") |"
    done
    echo "$out"
}
row "≤ 500 µs per login" abs
row "≥ 20× cheaper than pam_oath" oath
row "≥ 3× cheaper than google-authenticator (DISALLOW_REUSE)" ga
row "flat from $small to $big users (within 25 %)" flat
echo
echo "PAM services (D is one set of users in the work folder; read with pam_start_confdir):"
echo
echo '```'
echo "$services"
echo '```'
echo
echo "Driver (bench/bench-pam.c), one slice: \`bench-pam run -p 1|2 -f FIRST -n TOTAL -r REPLAYS"
echo "-o TIMES D/pam.d SERVICE D/secrets $chunk\`; the users' files from \`bench-pam make USERS D\`."
echo "Each size and mode runs in slices of $chunk logins, the modules taking turns."
