#!/usr/bin/env bash
# Tests of the built mnzone-enroll report: the self-inspection report in its four formats.
# The store is prepared with the tool itself (add, verify with wrong codes, revoke,
# emergency, unlock), and with sqlite3 where the tool cannot make the state (an expiry
# date in the past, credentials unused for months, events before the period). Then the
# JSON is checked field by field with jq, the CSV for its sections and quoting, the text
# for its sections, and the HTML with xmllint for well-formed, self-contained markup.
# When run as root, a system group with users checks the coverage of staff_group.
# TAP output. TOTP codes come from oathtool, never from mnzone.
set -u
tool="$MZ_BUILDDIR/enroll/mnzone-enroll"
OATHTOOL=${OATHTOOL:-oathtool}
for need in "$OATHTOOL" jq sqlite3 xmllint; do
    if ! command -v "$need" >/dev/null 2>&1; then
        echo "1..0 # SKIP $need not installed (./quickstart test installs it)"
        exit 0
    fi
done
unset SUDO_USER LANGUAGE
export LC_ALL=C TZ=JST-9 # local time as in Japan, with no need for tzdata

. "$(dirname "$0")/tap.sh"
# has NAME PATTERN FILE: passes when FILE has a line with the fixed string PATTERN.
has() {
    if grep -q -F -- "$2" "$3"; then ok "$1"; else
        not_ok "$1"; head -40 "$3" | sed 's/^/# /'; fi
}
# lacks NAME PATTERN FILE: passes when FILE has no line with the fixed string PATTERN.
lacks() {
    if grep -q -F -- "$2" "$3"; then not_ok "$1"; grep -n -F -- "$2" "$3" | sed 's/^/# /'; else
        ok "$1"; fi
}

work=$(mktemp -d /tmp/mz-cli-report.XXXXXX)
chmod 0700 "$work"
group="mzrtest$$"
users=()
cleanup() {
    local u
    for u in "${users[@]}"; do userdel "$u" >/dev/null 2>&1; done
    getent group "$group" >/dev/null 2>&1 && groupdel "$group" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
db="$work/store/mnzone.db"
# make_conf FILE EXTRA: a configuration of the store, with the key file $KEY (default the
# store's own).
make_conf() {
    printf 'store = %s\nkey_file = %s\ntime_sync = off\n%s' "$db" "${KEY:-$work/mnzone.key}" "$2" >"$1"
    chmod 600 "$1"
}
conf="$work/mnzone.conf"
make_conf "$conf" ""
# The events below are written with sqlite3, unhashed, so the audit chain does not hold:
# the reports of the figures are made without the key (the chain "not checked"); the
# chain itself is tested at the end on a store of its own.
rconf="$work/report.conf"
KEY="$work/no-key" make_conf "$rconf" ""
conf2="$work/two.conf" # locked for 15 minutes after two failures
make_conf "$conf2" $'max_failures = 2\nlockout = 900\n'
conf3="$work/three.conf" # locked after three failures, until unlocked
make_conf "$conf3" $'max_failures = 3\nlockout = 0\n'
conf150="$work/stale150.conf"
KEY="$work/no-key" make_conf "$conf150" $'stale_days = 150\n'
confnogroup="$work/nogroup.conf"
KEY="$work/no-key" make_conf "$confnogroup" "staff_group = mznogrp$$"$'\n'
me=$(id -un)
host=$(uname -n)

sq() { sqlite3 "$db" "$1"; }
# fails USER CONF N: N verify attempts with a wrong code.
fails() {
    local w i
    w=$(wrong_totp "$(secret_of "$1")")
    for ((i = 0; i < $3; i++)); do "$tool" --config "$2" verify "$1" "$w" >/dev/null 2>&1 </dev/null; done
}
# add USER NAME [OPTIONS...]: enrols USER with a fixed secret and no first code.
add() {
    local u=$1 name=$2; shift 2
    "$tool" --config "$conf" add "$u" --staff-id "id-$u" --name "$name" --secret "$(secret_of "$u")" \
        --no-verify "$@" >/dev/null 2>"$work/err" </dev/null || {
        echo "Bail out! add $u failed: $(cat "$work/err")"; exit 1; }
}
# secret_of USER: a fixed Base32 secret per user (20 bytes from the name).
secret_of() { printf '%-20.20s' "$1" | base32 | tr -d '=\n'; }
# audit_event AT SERVICE HOST TTY RHOST USER ACTOR EVENT RESULT: appends an event as
# the module would (only the report reads it, so its hash is not computed).
audit_event() {
    sq "INSERT INTO audit (seq, at, host, service, tty, rhost, user, actor, event, method, result,
        reason, prev_hash, hash) VALUES ((SELECT COALESCE(max(seq), 0) + 1 FROM audit), '$1', '$3',
        '$2', '$4', '$5', '$6', '$7', '$8', 'totp', '$9', 'test', zeroblob(32), zeroblob(32))"
}
day() { date -d "$1" +%F; }
# iso LOCALTIME: as UTC, the way the report and the audit log write times.
iso() { date -u -d "@$(date -d "$1" +%s)" +%Y-%m-%dT%H:%M:%SZ; }
epoch() { date -d "$1" +%s; }
# jqo FILTER: jq -r on the last output.
jqo() { jq -r "$1" "$work/out"; }

"$tool" --config "$conf" init >/dev/null 2>&1 </dev/null || { echo "Bail out! init failed"; exit 1; }

# ---- the store

add taro '山田 太郎'
"$tool" --config "$conf" verify taro "$(totp "$(secret_of taro)")" >/dev/null 2>&1 </dev/null
add hanako '佐藤 花子'
fails hanako "$conf" 2
add jiro '次郎' --dept '税務課'
SUDO_USER=kanri01 "$tool" --config "$conf" revoke jiro --reason '退職 (retired)' >/dev/null </dev/null
sq "UPDATE credentials SET created_at = $(epoch '-400 days') WHERE login = 'jiro'"
add saburo '三郎'
SUDO_USER=kanri03 "$tool" --config "$conf" emergency saburo --hours 4 \
    --reason 'スマートフォン紛失' --json >"$work/em1.json" </dev/null
ecode1=$(jq -r .code "$work/em1.json")
"$tool" --config "$conf" verify saburo "$ecode1" >/dev/null 2>&1 </dev/null
evil=$'<b>"x" & \'y\'</b>'
SUDO_USER=kanri03 "$tool" --config "$conf" emergency saburo --hours 2 --reason "$evil" \
    --json >"$work/em2.json" </dev/null
ecode2=$(jq -r .code "$work/em2.json")
add shiro '四朗'
fails shiro "$conf3" 3
add goro '五郎'
fails goro "$conf2" 2
add rokuro '六郎'
fails rokuro "$conf3" 3
SUDO_USER=kanri04 "$tool" --config "$conf" unlock rokuro >/dev/null </dev/null
add shichiro '鈴木, "七郎"' --employment contractor
sq "UPDATE staff SET valid_until = '2020-03-31' WHERE login = 'shichiro'"
add hachiro '八郎' --employment fiscal-year
sq "UPDATE staff SET valid_until = '$(day '+10 days')' WHERE login = 'hachiro'"
add kuro '九郎' --employment fiscal-year
sq "UPDATE staff SET valid_until = '$(day '+45 days')' WHERE login = 'kuro'"
add juro '十郎'
sq "UPDATE credentials SET last_used_at = $(($(date +%s) - 100 * 86400)) WHERE login = 'juro'"
add juichi '十一郎'
sq "UPDATE credentials SET created_at = $(($(date +%s) - 200 * 86400)) WHERE login = 'juichi'"
add juni '十二郎'
"$tool" --config "$conf" emergency juni --hours 1 --reason 'old exception' >/dev/null </dev/null
SUDO_USER=kanri02 "$tool" --config "$conf" revoke juni --reason 'old revocation' >/dev/null </dev/null
sq "UPDATE credentials SET revoked_at = $(epoch '2020-01-10 10:00') WHERE login = 'juni'"
sq "UPDATE codes SET created_at = $(epoch '2020-01-12 10:00') WHERE login = 'juni'"
# Events from PAM: one on a window terminal now, three in January 2020.
audit_event "$(date -u +%Y-%m-%dT%H:%M:%SZ)" sshd mado01 pts/3 192.0.2.5 taro taro auth failure
audit_event 2020-01-15T03:00:00Z login term07 tty3 10.0.0.7 juni juni auth failure
audit_event 2020-01-16T00:30:00Z login term07 tty3 10.0.0.7 juni juni auth success
audit_event 2020-01-16T01:00:00Z mnzone-enroll kanri term07 '' juni kanri09 add success
secrets=()
for u in taro hanako jiro saburo shiro goro rokuro shichiro hachiro kuro juro juichi juni; do
    secrets+=("$(secret_of $u)")
done

# ---- JSON, default period: the last 30 days up to now

expect_exit "report --format json" 0 --config "$rconf" report --format json
cp "$work/out" "$work/report.json"
is "json: one object" "$(jqo type)" object
is "json: a key per section" "$(jqo '[keys_unsorted[]] | join(" ")')" \
    "generated_at host period today stale_days coverage expiry locked stale revocations emergency_codes failed_logins_by_user failed_logins_by_terminal admin_actions logins_per_day audit_chain left_out"
is "json: period since local midnight 30 days ago" "$(jqo .period.since)" \
    "$(iso "$(day '-30 days') 00:00")"
is "json: today" "$(jqo .today)" "$(date +%F)"
is "json: stale_days" "$(jqo .stale_days)" 90
is "json: staff_group not set: coverage not checked" \
    "$(jqo '[.coverage.group, .coverage.checked, .coverage.members, (.coverage.not_enrolled | length)] | tostring')" \
    '[null,false,0,0]'
is "json: expiry: the expired and the expiring, by date" \
    "$(jqo '[.expiry[] | .user + ":" + .state] | join(",")')" "shichiro:expired,hachiro:expiring"
is "json: expiry: hachiro has 10 days left, fiscal-year" \
    "$(jqo '.expiry[] | select(.user == "hachiro") | "\(.days_left) \(.employment) \(.valid_until)"')" \
    "10 fiscal-year $(day '+10 days')"
is "json: expiry: shichiro's name and date" \
    "$(jqo '.expiry[] | select(.user == "shichiro") | "\(.name)|\(.valid_until)|\(.days_left < 0)"')" \
    '鈴木, "七郎"|2020-03-31|true'
is "json: locked: goro and shiro, not the unlocked rokuro" "$(jqo '[.locked[].user] | join(",")')" \
    "goro,shiro"
is "json: locked: shiro until an administrator unlocks" \
    "$(jqo '.locked[] | select(.user == "shiro") | "\(.locked_until) \(.failures)"')" "until unlocked 3"
lu=$(jqo '.locked[] | select(.user == "goro") | .locked_until')
lu_s=$(date -u -d "$lu" +%s 2>/dev/null || echo 0)
check "json: locked: goro for 15 minutes ($lu)" \
    [ "$lu_s" -gt "$(date +%s)" -a "$lu_s" -le $(($(date +%s) + 900)) ]
is "json: stale: the never used and the long unused, not the revoked" \
    "$(jqo '[.stale[] | "\(.user):\(.days_unused):\(.last_used_at)"] | join(",")')" \
    "juichi:200:null,juro:100:$(sq "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', last_used_at, 'unixepoch') FROM credentials WHERE login='juro'")"
is "json: stale: status and method" "$(jqo '.stale[0] | "\(.status) \(.method)"')" "active totp"
is "json: revocations in the period: jiro only (juni's was in 2020)" \
    "$(jqo '[.revocations[] | "\(.user)|\(.name)|\(.method)|\(.revoked_by)|\(.reason)"] | join(",")')" \
    "jiro|次郎|totp|kanri01|退職 (retired)"
is "json: emergency codes in the period: saburo's two" \
    "$(jqo '[.emergency_codes[] | "\(.user)|\(.issued_by)|\(.used)|\(.state)|\(.reason)"] | join(",")')" \
    "saburo|kanri03|true|used|スマートフォン紛失,saburo|kanri03|false|valid|$evil"
is "json: emergency codes: expiry and use times" \
    "$(jqo '[.emergency_codes[] | [.expires_at != null, .used_at != null]] | tostring')" \
    '[[true,true],[true,false]]'
is "json: emergency codes: no field holds a code" \
    "$(jqo '[.emergency_codes[] | keys[]] | unique | join(",")')" \
    "expires_at,issued_at,issued_by,name,reason,state,used,used_at,user"
is "json: failed logins by user, most first" \
    "$(jqo '[.failed_logins_by_user[] | "\(.user)=\(.failures)"] | join(",")')" \
    "rokuro=3,shiro=3,goro=2,hanako=2,taro=1"
is "json: failed logins by user: the name" \
    "$(jqo '.failed_logins_by_user[] | select(.user == "hanako") | .name')" "佐藤 花子"
is "json: failed logins by terminal" \
    "$(jqo '[.failed_logins_by_terminal[] | "\(.host)|\(.tty)|\(.rhost)|\(.failures)"] | join(",")')" \
    "$host|||10,mado01|pts/3|192.0.2.5|1"
is "json: admin actions: kanri01 revoke" \
    "$(jqo '.admin_actions[] | select(.actor == "kanri01") | "\(.event) \(.count)"')" "revoke 1"
is "json: admin actions: kanri03 two emergency codes" \
    "$(jqo '.admin_actions[] | select(.actor == "kanri03") | "\(.event) \(.count)"')" "emergency 2"
is "json: admin actions: kanri04 unlock" \
    "$(jqo '.admin_actions[] | select(.actor == "kanri04") | "\(.event) \(.count)"')" "unlock 1"
is "json: admin actions: $me added 13" \
    "$(jqo ".admin_actions[] | select(.actor == \"$me\" and .event == \"add\") | .count")" 13
is "json: admin actions: not the 2020 one" "$(jqo '[.admin_actions[] | select(.actor == "kanri09")] | length')" 0
is "json: every administrative event of the period counted" "$(jqo '[.admin_actions[].count] | add')" \
    "$(sq "SELECT count(*) FROM audit WHERE service='mnzone-enroll' AND at >= '$(jqo .period.since)'")"
is "json: logins per day: 31 days, the last today" \
    "$(jqo '"\(.logins_per_day | length) \(.logins_per_day[-1].date) \(.logins_per_day[0].date)"')" \
    "31 $(date +%F) $(day '-30 days')"
since=$(jqo .period.since)
is "json: logins per day: successes add up" "$(jqo '[.logins_per_day[].success] | add')" \
    "$(sq "SELECT count(*) FROM audit WHERE event='auth' AND result='success' AND at >= '$since'")"
is "json: logins per day: failures add up" "$(jqo '[.logins_per_day[].failure] | add')" \
    "$(sq "SELECT count(*) FROM audit WHERE event='auth' AND result='failure' AND at >= '$since'")"
is "json: logins per day: today 2 successful, 11 failed" \
    "$(jqo '.logins_per_day[-1] | "\(.success) \(.failure)"')" "2 11"
expect_exit "report --json is --format json" 0 --config "$rconf" report --json
is "--json: the same sections" "$(jqo '[keys_unsorted[]] | length')" 17

# ---- another period: January 2020

expect_exit "report --since 2020-01-01 --until 2020-02-01" 0 --config "$rconf" report \
    --since 2020-01-01 --until 2020-02-01 --format json
is "2020: period" "$(jqo '.period | "\(.since) \(.until)"')" \
    "$(iso '2020-01-01 00:00') $(iso '2020-02-01 00:00')"
is "2020: 31 days" "$(jqo '.logins_per_day | length')" 31
is "2020: the logins of 15 and 16 January" \
    "$(jqo '[.logins_per_day[] | select(.success + .failure > 0) | "\(.date):\(.success)/\(.failure)"] | join(",")')" \
    "2020-01-15:0/1,2020-01-16:1/0"
is "2020: failed logins by user" "$(jqo '[.failed_logins_by_user[] | "\(.user)=\(.failures)"] | join(",")')" "juni=1"
is "2020: failed logins by terminal" \
    "$(jqo '[.failed_logins_by_terminal[] | "\(.host)|\(.tty)|\(.rhost)"] | join(",")')" "term07|tty3|10.0.0.7"
is "2020: revocations" "$(jqo '[.revocations[] | "\(.user)|\(.revoked_by)|\(.reason)"] | join(",")')" \
    "juni|kanri02|old revocation"
is "2020: emergency code, voided by the revocation" \
    "$(jqo '[.emergency_codes[] | "\(.user)|\(.used)|\(.state)"] | join(",")')" "juni|false|voided"
is "2020: admin actions" "$(jqo '[.admin_actions[] | "\(.actor)|\(.event)|\(.count)"] | join(",")')" "kanri09|add|1"
is "2020: the state of now is the same (expired, locked, stale)" \
    "$(jqo '"\(.expiry | length) \(.locked | length) \(.stale | length)"')" "2 2 2"
expect_exit "report --since only: up to now" 0 --config "$rconf" report --since "$(day '-2 days')" --json
is "--since only: 3 days" "$(jqo '.logins_per_day | length')" 3
expect_exit "report --until only: the 30 days before" 0 --config "$rconf" report --until 2020-02-01 --json
is "--until only: 30 days" "$(jqo '"\(.logins_per_day | length) \(.logins_per_day[0].date)"')" "30 2020-01-02"

# ---- configuration: stale_days, a staff_group that does not exist

expect_exit "report with stale_days = 150" 0 --config "$conf150" report --json
is "stale_days = 150: only the one unused for 200 days" "$(jqo '[.stale[].user] | join(",")')" juichi
is "stale_days = 150: in the report" "$(jqo .stale_days)" 150
expect_exit "report with a staff_group that does not exist" 0 --config "$confnogroup" report --json
is "no such group: found false, not checked" \
    "$(jqo '[.coverage.group, .coverage.group_found, .coverage.checked] | tostring')" "[\"mznogrp$$\",false,false]"
expect_exit "report, text, with a staff_group that does not exist" 0 --config "$confnogroup" report
has "no such group: the text says so" "Group mznogrp$$ does not exist on this system" "$work/out"

# ---- CSV

expect_exit "report --format csv" 0 --config "$rconf" report --format csv
cp "$work/out" "$work/report.csv"
is "csv: one table per section, each after # name" "$(grep '^# ' "$work/report.csv" | tr -d '\r' | tr '\n' ' ')" \
    "# report # coverage # expiry # locked # stale # revocations # emergency_codes # failed_logins_by_user # failed_logins_by_terminal # admin_actions # logins_per_day # audit_chain "
is "csv: every line ends in CRLF" "$(grep -c -v $'\r$' "$work/report.csv")" 0
is "csv: a header after each section line" \
    "$(grep -A1 '^# expiry' "$work/report.csv" | tail -1)" $'user,name,department,employment,valid_until,state,days_left\r'
has "csv: name with comma and quotes quoted per RFC 4180" \
    'shichiro,"鈴木, ""七郎""",,contractor,2020-03-31,expired,' "$work/report.csv"
has "csv: reason with quotes quoted" \
    "\"<b>\"\"x\"\" & 'y'</b>\",$(jq -r .expires "$work/em2.json"),false,,valid"$'\r' "$work/report.csv"
has "csv: plain fields unquoted" "jiro,次郎,totp," "$work/report.csv"
has "csv: staff_group empty" $'staff_group,\r' "$work/report.csv"
is "csv: 31 days" "$(sed -n '/^# logins_per_day/,$p' "$work/report.csv" | grep -c '^[0-9]')" 31
if ! command -v python3 >/dev/null 2>&1; then ok "# SKIP python3 not installed"; else
check "csv: each section has as many fields in each row (python csv)" python3 -c '
import csv, sys
cur = None
for row in csv.reader(open(sys.argv[1], newline="", encoding="utf-8")):
    if len(row) == 1 and row[0].startswith("# "):
        cur = None; continue
    if cur is None: cur = len(row); continue
    if len(row) != cur: sys.exit(1)
' "$work/report.csv"
fi

# ---- text

expect_exit "report (text)" 0 --config "$rconf" report
cp "$work/out" "$work/report.txt"
for h in "Self-inspection report" "1. Enrolment coverage (0)" "2. Expired or expiring enrolments (2)" \
    "3. Locked accounts (2)" "4. Stale credentials (2)" "5. Revocations (1)" \
    "6. Emergency codes (exceptional measures) (2)" "7. Failed logins by user (5)" \
    "8. Failed logins by terminal (2)" "9. Administrative actions" "10. Logins per day"; do
    has "text: section \"$h\"" "$h" "$work/report.txt"
done
has "text: staff_group not set" "staff_group is not set in the configuration" "$work/report.txt"
has "text: shiro locked until unlocked" "until an administrator unlocks" "$work/report.txt"
has "text: never used" "never" "$work/report.txt"
has "text: the name with comma and quotes as it is" '鈴木, "七郎"' "$work/report.txt"
has "text: the period" "from $(day '-30 days') 00:00 until" "$work/report.txt"
expect_exit "report --format text" 0 --config "$rconf" report --format text
is "--format text is the default" "$(cmp -s "$work/out" "$work/report.txt" && echo same)" same

# ---- HTML

expect_exit "report --format html" 0 --config "$rconf" report --format html
cp "$work/out" "$work/report.html"
if xmllint --noout "$work/report.html" 2>"$work/xml.err"; then ok "html: well-formed (xmllint --noout)"; else
    not_ok "html: well-formed (xmllint --noout)"; head -20 "$work/xml.err" | sed 's/^/# /'; fi
is "html: starts with <!DOCTYPE html>" "$(head -1 "$work/report.html")" "<!DOCTYPE html>"
has "html: lang en in the C locale" '<html lang="en" xml:lang="en">' "$work/report.html"
has "html: printable on A4" "@page { size: A4" "$work/report.html"
is "html: one inline chart without staff_group" "$(grep -c '<svg' "$work/report.html")" 1
lacks "html: no script" "<script" "$work/report.html"
lacks "html: no external resources (src)" "src=" "$work/report.html"
lacks "html: no links (href)" "href=" "$work/report.html"
lacks "html: no url()" "url(" "$work/report.html"
is "html: no http reference but the SVG namespace" "$(grep -o 'https\?:[^" ]*' "$work/report.html" | sort -u)" \
    "http://www.w3.org/2000/svg"
has "html: a reason escaped" "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;" "$work/report.html"
lacks "html: the reason not raw" "<b>\"x\"" "$work/report.html"
has "html: a name escaped" "鈴木, &quot;七郎&quot;" "$work/report.html"
is "html: a bar per day with logins, with its numbers" \
    "$(grep -c "<g><title>$(date +%F): 2 successful, 11 failed</title><rect" "$work/report.html")" 1
is "html: eleven sections" "$(grep -c '^<section id=' "$work/report.html")" 11
is "html: every section closed" "$(grep -c '^</section>' "$work/report.html")" 11

# ---- no secret and no code in any format

for f in json csv txt html; do
    leak=""
    for s in "${secrets[@]}" "$ecode1" "$ecode2" "${ecode1//-/}" "${ecode2//-/}"; do
        grep -q -F -- "$s" "$work/report.$f" && leak="$leak $s"
    done
    is "$f: no secret and no code" "$leak" ""
done

# ---- problems found still exit 0; usage errors exit 2; store errors exit 4

expect_exit "--since not a date" 2 --config "$rconf" report --since 2026-02-30
has "--since not a date: names the option" "--since" "$work/err"
expect_exit "--until not a date" 2 --config "$rconf" report --until yesterday
has "--until not a date: names the option" "--until" "$work/err"
expect_exit "--since after --until" 2 --config "$rconf" report --since 2020-02-01 --until 2020-01-01
expect_exit "--since equal to --until" 2 --config "$rconf" report --since 2020-02-01 --until 2020-02-01
expect_exit "--since in the future" 2 --config "$rconf" report --since "$(day '+2 days')"
expect_exit "a period longer than 366 days" 2 --config "$rconf" report --since 2020-01-01 --until 2021-01-02
expect_exit "a leap year is 366 days" 0 --config "$rconf" report --since 2020-01-01 --until 2021-01-01 --json
is "366 days" "$(jqo '.logins_per_day | length')" 366
expect_exit "--format pdf" 2 --config "$rconf" report --format pdf
has "--format pdf: names the option" "--format" "$work/err"
expect_exit "--format without a value" 2 --config "$rconf" report --format
expect_exit "--format csv and --json" 2 --config "$rconf" report --format csv --json
expect_exit "unknown option" 2 --config "$rconf" report --user taro
expect_exit "--since twice" 2 --config "$rconf" report --since 2020-01-01 --since 2020-02-01
has "--since twice: says so" "--since: given more than once" "$work/err"
expect_exit "--until twice" 2 --config "$rconf" report --until 2020-01-01 --until 2020-02-01
has "--until twice: says so" "--until: given more than once" "$work/err"
expect_exit "an unknown option before the command" 2 -x report
has "before the command: the message has no stray space" "mnzone-enroll: unknown option -x" "$work/err"
expect_exit "unexpected argument" 2 --config "$rconf" report taro
is "usage errors print nothing on standard output" "$(wc -c <"$work/out")" 0
make_conf "$work/missing.conf" ""
sed -i "s|$db|$work/none/mnzone.db|" "$work/missing.conf"
expect_exit "no store" 4 --config "$work/missing.conf" report
has "no store: says so" "no store" "$work/err"
chmod 644 "$db"
expect_exit "store readable by others" 4 --config "$rconf" report --format html
has "unsafe store: names it" "$db" "$work/err"
is "unsafe store: nothing on standard output" "$(wc -c <"$work/out")" 0
chmod 600 "$db"

# ---- translations: nothing breaks under a Japanese locale (the catalogue is checked
# once installed, by installcheck)

ja=""
locale -a 2>/dev/null | grep -qi '^ja_JP\.utf-\?8$' && ja=ja_JP.UTF-8
for f in text json csv html; do
    LANGUAGE=ja LC_ALL=${ja:-C} "$tool" --config "$rconf" report --format $f >"$work/ja.$f" 2>"$work/err" </dev/null
    is "LANGUAGE=ja${ja:+ LC_ALL=$ja}: --format $f works" "$?" 0
done
same_json() {
    jq -e --slurpfile a "$1" 'del(.generated_at, .period.until) == ($a[0] | del(.generated_at, .period.until))' \
        "$2" >/dev/null
}
check "LANGUAGE=ja: the JSON is the same JSON" same_json "$work/report.json" "$work/ja.json"
check "LANGUAGE=ja: the HTML is well-formed" xmllint --noout "$work/ja.html"
if [ -n "$ja" ]; then
    has "LC_ALL=$ja: html lang ja" '<html lang="ja" xml:lang="ja">' "$work/ja.html"
else
    ok "# SKIP no ja_JP.UTF-8 locale: html lang ja not checked"
fi

# ---- what a login prompt can bring into the report: a typed user name with C1 control
#      characters (U+009B, the one-byte CSI of some terminals) and U+FFFE; the module
#      audits unknown names as they were typed
sq "INSERT INTO audit (seq, at, host, service, tty, rhost, user, actor, event, method, result,
    reason, prev_hash, hash) VALUES ((SELECT COALESCE(max(seq), 0) + 1 FROM audit),
    '$(date -u +%Y-%m-%dT%H:%M:%SZ)', '$host', 'login', 'tty9', 'r' || char(133) || 'h',
    'ev' || char(155) || '2J' || char(65534) || 'il', 'ev', 'auth', 'totp', 'failure', 'unknown user',
    zeroblob(32), zeroblob(32))"
for fmt in text csv html; do
    expect_exit "report ($fmt) with C1 characters in the audit log" 0 --config "$rconf" report --format "$fmt"
    check "report ($fmt): no C1 character and no U+FFFE" sh -c \
        "! LC_ALL=C grep -q -P '\xc2[\x80-\x9f]|\xef\xbf\xbe|\x1b' '$work/out'"
    has "report ($fmt): the typed name with ? in their place" "ev?2J?il" "$work/out"
done

# ---- an emergency code issued before the period and used in it (72 hours across the
#      first of the month) is in the period's report, as used
add nijuichi '二十一郎'
"$tool" --config "$conf" emergency nijuichi --hours 72 --reason 'across the month' --json \
    >"$work/em3.json" </dev/null
sq "UPDATE codes SET created_at = created_at - 2 * 86400 WHERE login = 'nijuichi'"
"$tool" --config "$conf" verify nijuichi "$(jq -r .code "$work/em3.json")" >/dev/null 2>&1 </dev/null
expect_exit "report --since today, a code issued two days before" 0 --config "$rconf" report \
    --since "$(date +%F)" --json
is "emergency code used in the period, issued before it" \
    "$(jqo '[.emergency_codes[] | select(.user == "nijuichi") | "\(.used)|\(.state)|\(.reason)"] | join(",")')" \
    "true|used|across the month"
expect_exit "report of the two days before: the same code, issued then" 0 --config "$rconf" report \
    --since "$(day '-2 days')" --until "$(day '-1 days')" --json
is "emergency code in the period it was issued in" \
    "$(jqo '[.emergency_codes[] | select(.user == "nijuichi") | .user] | join(",")')" nijuichi

# ---- invisible and direction characters in a typed name: U+202E turns "orat" into
#      what reads as "taro"; U+200B and U+2066 hide
sq "INSERT INTO audit (seq, at, host, service, tty, rhost, user, actor, event, method, result,
    reason, prev_hash, hash) VALUES ((SELECT COALESCE(max(seq), 0) + 1 FROM audit),
    '$(date -u +%Y-%m-%dT%H:%M:%SZ)', '$host', 'login', 'tty9', '',
    char(8238) || 'orat' || char(8203) || char(8294), 'x', 'auth', 'totp', 'failure', 'unknown user',
    zeroblob(32), zeroblob(32))"
for fmt in text csv html json; do
    expect_exit "report ($fmt) with direction characters in the audit log" 0 --config "$rconf" report --format "$fmt"
    check "report ($fmt): no U+202E, U+200B or U+2066" sh -c \
        "! LC_ALL=C grep -q -P '\xe2\x80\xae|\xe2\x80\x8b|\xe2\x81\xa6' '$work/out'"
    has "report ($fmt): the typed name with ? in their place" "?orat??" "$work/out"
done

# ---- a flood of made-up names at the login prompt: the tables by user and by terminal
#      keep the 500 with the most failures and count the rest

base=$(sq "SELECT max(seq) FROM audit")
sq "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 700)
    INSERT INTO audit (seq, at, host, service, tty, rhost, user, actor, event, method, result,
    reason, prev_hash, hash) SELECT $base + i, '$(date -u +%Y-%m-%dT%H:%M:%SZ)', '$host', 'sshd',
    '', 'flood' || i || '.example', 'flood' || i, 'flood' || i, 'auth', 'totp', 'failure',
    'unknown user', zeroblob(32), zeroblob(32) FROM n"
expect_exit "report after a flood of names" 0 --config "$rconf" report --json
since=$(jqo .period.since)
users=$(sq "SELECT count(DISTINCT user) FROM audit WHERE event = 'auth' AND result = 'failure' AND at >= '$since'")
fails=$(sq "SELECT count(*) FROM audit WHERE event = 'auth' AND result = 'failure' AND at >= '$since'")
is "flood: 500 users listed" "$(jqo '.failed_logins_by_user | length')" 500
is "flood: the most failed first, as before" "$(jqo '.failed_logins_by_user[0:2] | map(.user) | join(",")')" \
    "rokuro,shiro"
is "flood: the users left out counted" "$(jqo '.left_out.failed_logins_by_user.rows')" "$((users - 500))"
is "flood: listed and left-out failures add up" \
    "$(jqo '([.failed_logins_by_user[].failures] | add) + .left_out.failed_logins_by_user.failures')" "$fails"
is "flood: terminals capped too" \
    "$(jqo '"\(.failed_logins_by_terminal | length) \(.left_out.failed_logins_by_terminal.rows > 0)"')" "500 true"
expect_exit "report (text) after a flood" 0 --config "$rconf" report
has "flood text: says how many were left out" "$((users - 500)) more, with" "$work/out"
expect_exit "report (csv) after a flood" 0 --config "$rconf" report --format csv
has "flood csv: the count left out" "failed_logins_by_user_left_out,$((users - 500))"$'\r' "$work/out"
expect_exit "report (html) after a flood" 0 --config "$rconf" report --format html
check "flood html: well-formed" xmllint --noout "$work/out"

# ---- the audit chain, on a store of its own whose events were all written by the tool

cdir="$work/chain"
mkdir -m 0700 "$cdir"
printf 'store = %s/mnzone.db\nkey_file = %s/mnzone.key\ntime_sync = off\n' "$cdir" "$cdir" >"$cdir/mnzone.conf"
cconf="$cdir/mnzone.conf"
"$tool" --config "$cconf" init >/dev/null 2>&1 </dev/null
"$tool" --config "$cconf" add ichiro --staff-id c-1 --name '一郎' --secret "$(secret_of ichiro)" \
    --no-verify >/dev/null 2>&1 </dev/null
"$tool" --config "$cconf" verify ichiro 000000 >/dev/null 2>&1 </dev/null
"$tool" --config "$cconf" audit verify >"$work/verify.txt" 2>&1
head=$(sed -n 's/.*head \([0-9]*:[0-9a-f]*\)$/\1/p' "$work/verify.txt")
expect_exit "report, chain intact" 0 --config "$cconf" report --json
is "chain intact: checked, intact, events, the head audit verify gives" \
    "$(jqo '.audit_chain[0] | "\(.checked) \(.intact) \(.events) \(.head) \(.first_bad_seq)"')" \
    "true true ${head%%:*} $head 0"
is "chain intact: its state" "$(jqo '.audit_chain[0].state')" intact
expect_exit "report (text), chain intact" 0 --config "$cconf" report
has "text: the head in the report" "$head" "$work/out"
# as a tamperer with sqlite3 would: the store's trigger first
sqlite3 "$cdir/mnzone.db" "DROP TRIGGER audit_no_update; UPDATE audit SET reason = 'nothing' WHERE seq = 2"
expect_exit "report, an event changed: exit 1" 1 --config "$cconf" report --json
is "chain broken: checked, not intact, the event named" \
    "$(jqo '.audit_chain[0] | "\(.checked) \(.intact) \(.first_bad_seq) \(.state)"')" "true false 2 broken"
has "chain broken: the report is printed all the same" '"logins_per_day"' "$work/out"
has "chain broken: stderr says so" "the audit log is broken" "$work/err"
printf 'store = %s/mnzone.db\nkey_file = %s/no-key\ntime_sync = off\n' "$cdir" "$cdir" >"$cdir/nokey.conf"
expect_exit "report without the key file: made, chain not checked" 0 --config "$cdir/nokey.conf" report --json
is "no key: not checked" "$(jqo '.audit_chain[0] | "\(.checked) \(.intact) \(.state)"')" "false false no_key"
has "no key: stderr names the key file" "no-key" "$work/err"

# ---- coverage of staff_group: a real group with users (root only)

if [ "${MZ_SYSTEM_TESTS:-0}" != 1 ] || [ "$(id -u)" -ne 0 ] || ! command -v useradd >/dev/null 2>&1 || ! command -v groupadd >/dev/null 2>&1; then
    # It adds a group and users to the machine (removed at exit): only where asked,
    # as ./quickstart test does on its throwaway CI machine.
    ok "# SKIP coverage of staff_group needs root, useradd and MZ_SYSTEM_TESTS=1"
elif ! groupadd -r "$group" 2>"$work/err"; then
    not_ok "groupadd $group"; sed 's/^/# /' "$work/err"
else
    a="mzr$$a" b="mzr$$b" c="mzr$$c" d="mzr$$d" e="mzr$$e"
    for u in "$a" "$c" "$d" "$e"; do
        users+=("$u")
        useradd -r -M -N -s /usr/sbin/nologin -G "$group" "$u"
    done
    users+=("$b")
    useradd -r -M -N -s /usr/sbin/nologin -g "$group" "$b" # a member by its primary group only
    for u in "$a" "$c" "$d" "$e"; do add "$u" "職員 $u"; done
    "$tool" --config "$conf" revoke "$c" --reason left >/dev/null </dev/null
    sq "UPDATE credentials SET status = 'revoked' WHERE login = '$d'"
    sq "UPDATE staff SET status = 'suspended' WHERE login = '$e'"
    KEY="$work/no-key" make_conf "$work/group.conf" "staff_group = $group"$'\n'
    expect_exit "report with staff_group" 0 --config "$work/group.conf" report --json
    is "coverage: five members, one enrolled" \
        "$(jqo '[.coverage.group, .coverage.checked, .coverage.members, .coverage.enrolled] | tostring')" \
        "[\"$group\",true,5,1]"
    is "coverage: who is not, and why" \
        "$(jqo '[.coverage.not_enrolled[] | "\(.user):\(.reason)"] | join(",")')" \
        "$b:not_enrolled,$c:revoked,$d:no_active_credential,$e:suspended"
    expect_exit "report with staff_group, text" 0 --config "$work/group.conf" report
    has "coverage text: the counts" "Group $group: 5 members, 1 with an active enrolment, 4 without." "$work/out"
    has "coverage text: the finding for a user not in the store" "$b  not in the store" "$work/out"
    expect_exit "report with staff_group, html" 0 --config "$work/group.conf" report --format html
    check "coverage html: well-formed" xmllint --noout "$work/out"
    is "coverage html: two charts" "$(grep -c '<svg' "$work/out")" 2
    has "coverage html: the share enrolled" "With an active enrolment: 1 (20%)" "$work/out"
    expect_exit "report with staff_group, csv" 0 --config "$work/group.conf" report --format csv
    has "coverage csv: a row per member without enrolment" "$d,no_active_credential"$'\r' "$work/out"
fi

echo "1..$n"
