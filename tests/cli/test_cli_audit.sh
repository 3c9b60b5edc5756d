#!/usr/bin/env bash
# Tests of the built mnzone-enroll's audit commands: list (text and --json), export (JSON
# lines with the chain's hashes), verify (count, head, --expect-head), the --since and
# --user filters, bad options, unsafe stores, and tampering by hand with sqlite3:
# a changed field, a removed event, swapped events, the newest events cut off, another key,
# control characters. Each checks the exit code and the output against what the store
# holds (read with sqlite3). TAP output. TOTP codes come from oathtool, never from mnzone.
set -u
tool="$MZ_BUILDDIR/enroll/mnzone-enroll"
OATHTOOL=${OATHTOOL:-oathtool}
for need in "$OATHTOOL" jq sqlite3; do
    if ! command -v "$need" >/dev/null 2>&1; then
        echo "1..0 # SKIP $need not installed (./quickstart test installs it)"
        exit 0
    fi
done
unset SUDO_USER # the actor is the real user unless a test says otherwise
unset LANGUAGE    # the messages compared below are the English ones
export LC_ALL=C.UTF-8

. "$(dirname "$0")/tap.sh"
# grep_out NAME PATTERN [FILE]: passes when FILE ($work/out) has a line matching PATTERN.
grep_out() {
    if grep -q -- "$2" "${3:-$work/out}"; then ok "$1"; else
        not_ok "$1"; sed 's/^/# /' "${3:-$work/out}"; fi
}
# usage_error NAME WORD ARGS...: exit 2, WORD named on stderr, nothing on stdout.
usage_error() {
    local name=$1 word=$2; shift 2
    expect_exit "$name" 2 "$@"
    if grep -q -F -- "$word" "$work/err" && [ ! -s "$work/out" ]; then
        ok "$name: names $word, prints nothing on stdout"
    else
        not_ok "$name: names $word, prints nothing on stdout"; sed 's/^/# /' "$work/err" "$work/out"
    fi
}

work=$(mktemp -d /tmp/mz-cli-audit.XXXXXX)
chmod 0700 "$work"
trap 'rm -rf "$work"' EXIT
db="$work/store/mnzone.db"
key="$work/mnzone.key"
conf="$work/mnzone.conf"
printf 'store = %s\nkey_file = %s\ntime_sync = off\n' "$db" "$key" >"$conf"
chmod 600 "$conf"
me=$(id -un)

sq() { sqlite3 "$db" "$1"; }
count() { sq "SELECT count(*) FROM audit"; }
# field SEQ COLUMN: a column of one event as the store holds it.
field() { sq "SELECT $2 FROM audit WHERE seq = $1"; }
# line_of SEQ: the text line of event SEQ in the last output.
line_of() { awk -F '\t' -v s="$1" '$1 == s' "$work/out"; }
# tsv_of SEQ: the line `audit list` must print for SEQ, built from the store ("-" if empty).
tsv_of() {
    sqlite3 -separator $'\t' "$db" "SELECT seq, $(printf "CASE %s WHEN '' THEN '-' ELSE %s END, " \
        at at user user actor actor event event method method result result reason reason \
        service service host host tty tty | sed 's/, $//'), CASE rhost WHEN '' THEN '-' ELSE rhost END
        FROM audit WHERE $1 ORDER BY seq"
}
hex_of() { sq "SELECT lower(hex(hash)) FROM audit WHERE seq = $1"; }
zeros=$(printf '0%.0s' {1..64})
# restore: the store as it was before tampering (triggers dropped), WAL files removed.
restore() {
    rm -f "$db" "$db-wal" "$db-shm"
    cp "$work/pristine.db" "$db"
    chmod 600 "$db"
}

"$tool" --config "$conf" init >/dev/null 2>&1 </dev/null || { echo "Bail out! init failed"; exit 1; }

S_TARO=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
S_HANAKO=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ

# ---- events of init, add, verify, revoke, unlock, each with its actor

SUDO_USER=kanri01 expect_exit "add taro" 0 --config "$conf" add taro --staff-id 3001 \
    --name '山田 太郎' --secret $S_TARO --code "$(totp $S_TARO)"
mapfile -t taro_codes < <(sed -n 's/^ *[0-9][0-9]*\. //p' "$work/out")
SUDO_USER=kanri01 expect_exit "add hanako" 0 --config "$conf" add hanako --staff-id 3002 \
    --name '佐藤 花子' --secret $S_HANAKO --no-verify
SUDO_USER=kanri02 expect_exit "verify taro: a wrong code" 1 --config "$conf" verify taro "$(wrong_totp $S_TARO)"
taro_code=$(totp $S_TARO 30)
SUDO_USER=kanri02 expect_exit "verify taro: the next code" 0 --config "$conf" verify taro "$taro_code"
SUDO_USER=kanri03 expect_exit "revoke hanako" 0 --config "$conf" revoke hanako --reason '退職 (retired)'
SUDO_USER=kanri04 expect_exit "unlock taro" 0 --config "$conf" unlock taro
events=$(count)
is "the store holds 7 events" "$events" 7

expect_exit "audit list" 0 --config "$conf" audit list
cp "$work/out" "$work/list.txt"
is "list: one line per event" "$(wc -l <"$work/list.txt")" "$events"
is "list: 12 tab-separated fields on every line" "$(awk -F '\t' 'NF != 12' "$work/list.txt" | wc -l)" 0
is "list: in seq order from 1" "$(cut -f1 "$work/list.txt" | tr '\n' ' ')" "1 2 3 4 5 6 7 "
is "list: every line is the store's event (empty fields as -)" "$(cat "$work/list.txt")" "$(tsv_of 1)"
is "list: init by the real user" "$(line_of 1 | cut -f3-8)" "-	$me	init	-	success	store ready"
is "list: add taro by SUDO_USER" "$(line_of 2 | cut -f3-8)" \
    "taro	kanri01	add	totp	success	enrolled (imported secret)"
is "list: add hanako" "$(line_of 3 | cut -f3-8)" "hanako	kanri01	add	totp	success	enrolled (imported secret)"
is "list: the refused verify" "$(line_of 4 | cut -f3-9)" \
    "taro	kanri02	auth	totp	failure	wrong code	mnzone-enroll"
is "list: the accepted verify" "$(line_of 5 | cut -f3-9)" \
    "taro	kanri02	auth	totp	success	accepted	mnzone-enroll"
is "list: revoke with its reason" "$(line_of 6 | cut -f3-8)" \
    "hanako	kanri03	revoke	-	success	退職 (retired)"
is "list: unlock" "$(line_of 7 | cut -f3-8)" "taro	kanri04	unlock	-	success	lock-out cleared"
is "list: time is UTC ISO 8601" "$(cut -f2 "$work/list.txt" | grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$')" "$events"
is "list: host is this machine" "$(cut -f10 "$work/list.txt" | sort -u)" "$(field 1 host)"
check "list: the verified code does not appear" sh -c "! grep -q -- '$taro_code' '$work/list.txt'"
is "list appended nothing" "$(count)" "$events"

expect_exit "audit list --json" 0 --config "$conf" audit list --json
cp "$work/out" "$work/list.json"
is "list --json: an array of every event" "$(jq -r 'if type == "array" then length else -1 end' "$work/list.json")" "$events"
is "list --json: the keys" "$(jq -c '.[0] | keys_unsorted' "$work/list.json")" \
    '["seq","time","user","actor","event","method","result","reason","service","host","tty","rhost"]'
is "list --json: seq is a number" "$(jq -r '[.[].seq | type] | unique | join(",")' "$work/list.json")" number
is "list --json: the same events as the store" \
    "$(jq -r '.[] | [.seq, .time, .user, .actor, .event, .method, .result, .reason, .service, .host, .tty, .rhost] | map(tostring) | join("|")' "$work/list.json")" \
    "$(sq "SELECT seq, at, user, actor, event, method, result, reason, service, host, tty, rhost FROM audit ORDER BY seq")"
is "list --json: revoke event" "$(jq -c '.[] | select(.event == "revoke") | [.user, .actor, .reason]' "$work/list.json")" \
    '["hanako","kanri03","退職 (retired)"]'

# ---- --user and --since

expect_exit "list --user taro" 0 --config "$conf" audit list --user taro
is "--user taro: taro's events only" "$(cat "$work/out")" "$(tsv_of "user = 'taro'")"
is "--user taro: as many as the store has" "$(wc -l <"$work/out")" "$(sq "SELECT count(*) FROM audit WHERE user='taro'")"
expect_exit "list --user hanako --json" 0 --config "$conf" audit list --user hanako --json
is "--user hanako --json: her add and revoke" "$(jq -c '[.[] | [.seq, .event]]' "$work/out")" '[[3,"add"],[6,"revoke"]]'
expect_exit "list --user of someone not in the log" 0 --config "$conf" audit list --user nobody
is "unknown user: no events" "$(wc -c <"$work/out")" 0
expect_exit "list --user nobody --json" 0 --config "$conf" audit list --user nobody --json
is "unknown user --json: an empty array" "$(jq -c . "$work/out")" '[]'

first_day=$(sq "SELECT substr(min(at), 1, 10) FROM audit")
expect_exit "list --since the first event's day" 0 --config "$conf" audit list --since "$first_day"
is "--since that day: every event" "$(wc -l <"$work/out")" "$events"
expect_exit "list --since a future day" 0 --config "$conf" audit list --since 2099-01-01
is "--since a future day: none" "$(wc -c <"$work/out")" 0
expect_exit "list --since a future day --json" 0 --config "$conf" audit list --since 2099-01-01 --json
is "--since a future day --json: an empty array" "$(jq -c . "$work/out")" '[]'
last_at=$(sq "SELECT max(at) FROM audit")
after_last=$(date -u -d "@$(($(date -u -d "$last_at" +%s) + 1))" +%Y-%m-%dT%H:%M:%SZ)
expect_exit "list --since the newest event's time" 0 --config "$conf" audit list --since "$last_at"
is "--since a time: the events at or after it" "$(cat "$work/out")" "$(tsv_of "at >= '$last_at'")"
check "--since a time: at least the newest event" [ "$(wc -l <"$work/out")" -ge 1 ]
expect_exit "list --since one second after the newest event" 0 --config "$conf" audit list --since "$after_last"
is "--since one second later: none" "$(wc -c <"$work/out")" 0
expect_exit "list --since and --user together" 0 --config "$conf" audit list --since "$first_day" --user hanako
is "--since and --user: both apply" "$(cut -f1 "$work/out" | tr '\n' ' ')" "3 6 "

usage_error "--since: month 13" --since --config "$conf" audit list --since 2026-13-01
usage_error "--since: 30 February" --since --config "$conf" audit list --since 2026-02-30
usage_error "--since: a word" --since --config "$conf" audit list --since yesterday
usage_error "--since: hour 25" --since --config "$conf" audit list --since 2026-04-01T25:00:00Z
usage_error "--since: no Z" --since --config "$conf" audit export --since 2026-04-01T09:00:00
usage_error "--since: empty" --since --config "$conf" audit list --since ''
usage_error "--user: not a login name" --user --config "$conf" audit list --user ../etc
usage_error "--user: empty" --user --config "$conf" audit export --user ''

# ---- export: JSON lines for a log server

expect_exit "audit export" 0 --config "$conf" audit export
cp "$work/out" "$work/export.jsonl"
is "export: one line per event" "$(wc -l <"$work/export.jsonl")" "$events"
bad_lines=0
while IFS= read -r line; do
    printf '%s' "$line" | jq -e 'type == "object"' >/dev/null 2>&1 || bad_lines=$((bad_lines + 1))
done <"$work/export.jsonl"
is "export: every line is one JSON object" "$bad_lines" 0
is "export: compact (one line each, no indentation)" "$(grep -c '^{"seq":' "$work/export.jsonl")" "$events"
is "export: the keys" "$(head -1 "$work/export.jsonl" | jq -c keys_unsorted)" \
    '["seq","time","user","actor","event","method","result","reason","service","host","tty","rhost","prev_hash","hash"]'
is "export: every hash and prev_hash is 64 lowercase hex digits" \
    "$(jq -r '.hash, .prev_hash' "$work/export.jsonl" | grep -cvE '^[0-9a-f]{64}$')" 0
is "export: the first prev_hash is all zeroes" "$(head -1 "$work/export.jsonl" | jq -r .prev_hash)" "$zeros"
is "export: prev_hash of each line is the hash of the line before" \
    "$(jq -s '[range(1; length) as $i | .[$i].prev_hash == .[$i - 1].hash] | all' "$work/export.jsonl")" true
is "export: the hashes are the stored ones" "$(jq -r .hash "$work/export.jsonl")" \
    "$(sq "SELECT lower(hex(hash)) FROM audit ORDER BY seq")"
is "export: the same events as list --json" "$(jq -s -c 'map(del(.prev_hash, .hash))' "$work/export.jsonl")" \
    "$(jq -c . "$work/list.json")"
check "export: the verified code does not appear in a field" \
    sh -c "! jq -r 'del(.hash, .prev_hash) | .[] | tostring' '$work/export.jsonl' | grep -q -- '$taro_code'"
leaked=0
for c in "${taro_codes[@]}"; do grep -q -F -- "$c" "$work/export.jsonl" && leaked=$((leaked + 1)); done
is "export: no recovery code appears" "$leaked/${#taro_codes[@]}" "0/10"
expect_exit "export --user taro" 0 --config "$conf" audit export --user taro
is "export --user: taro's events" "$(jq -r .seq "$work/out" | tr '\n' ' ')" \
    "$(sq "SELECT seq FROM audit WHERE user='taro' ORDER BY seq" | tr '\n' ' ')"
is "export --user: prev_hash is the stored hash of the event before" \
    "$(jq -r .prev_hash "$work/out")" \
    "$(sq "SELECT lower(hex(prev_hash)) FROM audit WHERE user='taro' ORDER BY seq")"
expect_exit "export --since a future day" 0 --config "$conf" audit export --since 2099-01-01
is "export --since a future day: nothing" "$(wc -c <"$work/out")" 0
expect_exit "export --json (already JSON)" 0 --config "$conf" audit export --json
is "export --json: the same lines" "$(cat "$work/out")" "$(cat "$work/export.jsonl")"

# ---- verify: intact

expect_exit "audit verify" 0 --config "$conf" audit verify
head_now="$events:$(hex_of "$events")"
is "verify: the count and the head" "$(cat "$work/out")" "$events events, chain intact; head $head_now"
expect_exit "audit verify --json" 0 --config "$conf" audit verify --json
is "verify --json" "$(jq -c '[.events, .intact, .first_bad_seq, .head, .problem]' "$work/out")" \
    "[$events,true,null,\"$head_now\",null]"
expect_exit "verify --expect-head the current head" 0 --config "$conf" audit verify --expect-head "$head_now"
grep_out "verify --expect-head: says the head is there" "head noted earlier is in the log"
upper_head="$events:$(hex_of "$events" | tr a-f A-F)"
expect_exit "verify --expect-head in upper case" 0 --config "$conf" audit verify --expect-head "$upper_head"
expect_exit "verify --expect-head of an older event" 0 --config "$conf" audit verify --expect-head "3:$(hex_of 3)"
expect_exit "verify --expect-head 0 (the start)" 0 --config "$conf" audit verify --expect-head "0:$zeros"
is "list, export and verify appended nothing" "$(count)" "$events"

# ---- bad options

usage_error "audit without an action" "list, export or verify" --config "$conf" audit
usage_error "audit with an unknown action" show --config "$conf" audit show
usage_error "list: unknown option" --bogus --config "$conf" audit list --bogus
usage_error "list: an operand" taro --config "$conf" audit list taro
usage_error "list: --since without a value" --since --config "$conf" audit list --since
usage_error "list: --expect-head is for verify" --expect-head --config "$conf" audit list --expect-head "$head_now"
usage_error "export: --expect-head is for verify" --expect-head --config "$conf" audit export --expect-head "$head_now"
usage_error "verify: --since would hide a break" --since --config "$conf" audit verify --since 2026-01-01
usage_error "verify: --user would hide a break" --user --config "$conf" audit verify --user taro
usage_error "verify: an operand" extra --config "$conf" audit verify extra
usage_error "list: --json twice" --json --config "$conf" audit list --json --json
usage_error "--expect-head: no colon" --expect-head --config "$conf" audit verify --expect-head 7
usage_error "--expect-head: 63 hex digits" --expect-head --config "$conf" audit verify --expect-head "7:${zeros:1}"
usage_error "--expect-head: not hex" --expect-head --config "$conf" audit verify --expect-head "7:${zeros:1}g"
usage_error "--expect-head: negative seq" --expect-head --config "$conf" audit verify --expect-head "-1:$zeros"
usage_error "--expect-head: no seq" --expect-head --config "$conf" audit verify --expect-head ":$zeros"

# ---- unsafe or missing files

chmod 644 "$db"
for action in list export verify; do
    expect_exit "store mode 644: $action" 4 --config "$conf" audit "$action"
    grep_out "store mode 644: $action names the store" "$db" "$work/err"
done
chmod 600 "$db"
chmod 644 "$key"
expect_exit "key mode 644: verify refuses" 4 --config "$conf" audit verify
grep_out "key mode 644: names the key file" "$key" "$work/err"
expect_exit "key mode 644: list needs no key" 0 --config "$conf" audit list
chmod 600 "$key"
printf 'store = %s\nkey_file = %s\ntime_sync = off\n' "$work/none/mnzone.db" "$key" >"$work/none.conf"
chmod 600 "$work/none.conf"
expect_exit "no store: list" 4 --config "$work/none.conf" audit list
expect_exit "no store: verify" 4 --config "$work/none.conf" audit verify

# ---- tampering by hand: what someone with access to the file (but not the key) could do

sq "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; DROP TRIGGER audit_only_append;"
sq ".backup '$work/pristine.db'"
cols="at, host, service, tty, rhost, user, actor, event, method, result, reason"
expect_exit "triggers dropped, nothing changed: intact" 0 --config "$conf" audit verify

sq "UPDATE audit SET reason = 'moved to another office' WHERE seq = 6"
expect_exit "a changed reason" 1 --config "$conf" audit verify
grep_out "changed reason: names event 6" "^Audit log broken at event 6: it was changed"
check "changed reason: no 'intact' line" sh -c "! grep -q 'chain intact' '$work/out'"
expect_exit "a changed reason --json" 1 --config "$conf" audit verify --json
is "changed reason --json" "$(jq -c '[.events, .intact, .first_bad_seq, .head, .problem]' "$work/out")" \
    '[5,false,6,null,"changed"]'
expect_exit "a changed reason: list still reads the log" 0 --config "$conf" audit list
grep_out "list shows what the store holds" "moved to another office"

restore
sq "UPDATE audit SET actor = 'someone' WHERE seq = 1"
expect_exit "a changed actor of the first event" 1 --config "$conf" audit verify
grep_out "changed first event: names event 1" "^Audit log broken at event 1:"

restore
sq "UPDATE audit SET at = '2020-01-01T00:00:00Z' WHERE seq = 4"
expect_exit "a changed time" 1 --config "$conf" audit verify
grep_out "changed time: names event 4" "^Audit log broken at event 4:"

restore
sq "DELETE FROM audit WHERE seq = 3"
expect_exit "a removed middle event" 1 --config "$conf" audit verify
grep_out "removed event 3: names the next event, 4, and the missing one" \
    "^Audit log broken at event 4: event 3 before it was removed"
expect_exit "a removed middle event --json" 1 --config "$conf" audit verify --json
is "removed event --json" "$(jq -c '[.events, .intact, .first_bad_seq, .problem]' "$work/out")" \
    '[2,false,4,"missing"]'

restore
sq "DELETE FROM audit WHERE seq IN (3, 4)"
expect_exit "two removed events" 1 --config "$conf" audit verify
grep_out "two removed: names event 5 and the range" "^Audit log broken at event 5: events 3 to 4 before it were removed"

restore
sq "DELETE FROM audit WHERE seq = 1"
expect_exit "the first event removed" 1 --config "$conf" audit verify
grep_out "first removed: names event 2" "^Audit log broken at event 2: event 1 before it was removed"

restore
sq "DELETE FROM audit WHERE seq = 3; UPDATE audit SET seq = seq - 1 WHERE seq > 3"
expect_exit "a removed event, the rest renumbered" 1 --config "$conf" audit verify
grep_out "renumbered: names event 3" "^Audit log broken at event 3:"

restore
sq "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (3, 4);
    UPDATE audit SET ($cols, prev_hash, hash) = (SELECT $cols, prev_hash, hash FROM t
        WHERE t.seq = 7 - audit.seq) WHERE seq IN (3, 4);"
is "swap: the store now has event 4's content at 3" "$(field 3 reason)" "wrong code"
expect_exit "two events swapped with their hashes" 1 --config "$conf" audit verify
grep_out "swapped: names event 3, out of order" "^Audit log broken at event 3: it does not follow"
expect_exit "swapped --json" 1 --config "$conf" audit verify --json
is "swapped --json" "$(jq -c '[.first_bad_seq, .problem]' "$work/out")" '[3,"out_of_order"]'

restore
sq "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (3, 4);
    UPDATE audit SET ($cols) = (SELECT $cols FROM t WHERE t.seq = 7 - audit.seq)
    WHERE seq IN (3, 4);"
expect_exit "two events' fields swapped, hashes kept" 1 --config "$conf" audit verify
grep_out "fields swapped: names event 3" "^Audit log broken at event 3: it was changed"

restore
sq "INSERT INTO audit SELECT 8, $cols, hash, hash FROM audit WHERE seq = 7"
expect_exit "an event appended by hand" 1 --config "$conf" audit verify
grep_out "appended by hand: names event 8" "^Audit log broken at event 8:"

# The newest event removed: the chain alone cannot tell; the head noted earlier can.
restore
sq "DELETE FROM audit WHERE seq = 7"
expect_exit "the newest event removed: the chain alone is intact" 0 --config "$conf" audit verify
is "newest removed: one event fewer, a new head" "$(cat "$work/out")" \
    "6 events, chain intact; head 6:$(hex_of 6)"
expect_exit "newest removed: --expect-head of the old head" 1 --config "$conf" audit verify --expect-head "$head_now"
grep_out "newest removed: says the log was cut short" "^Audit log cut short: event 7, noted earlier, is missing"
expect_exit "newest removed: --expect-head --json" 1 --config "$conf" audit verify --expect-head "$head_now" --json
is "newest removed --json" "$(jq -c '[.events, .intact, .first_bad_seq, .head, .problem, .expect_head]' "$work/out")" \
    "[6,false,7,\"6:$(hex_of 6)\",\"head_missing\",\"$head_now\"]"
expect_exit "newest removed: an older head noted still passes" 0 --config "$conf" audit verify --expect-head "5:$(hex_of 5)"
# ... and a new event written since takes its number: only the hash tells. (Another
# administrator: the same unlock by kanri04 within the same second as event 7 would be
# event 7 again, byte for byte.)
SUDO_USER=kanri05 expect_exit "newest removed, then a new event" 0 --config "$conf" unlock taro
expect_exit "new event at 7: the chain is intact" 0 --config "$conf" audit verify
expect_exit "new event at 7: --expect-head of the old 7" 1 --config "$conf" audit verify --expect-head "$head_now"
grep_out "new event at 7: says the log was rewritten" "^Audit log rewritten: event 7 is not the one noted earlier"
expect_exit "new event at 7 --json" 1 --config "$conf" audit verify --expect-head "$head_now" --json
is "new event at 7 --json" "$(jq -c '[.intact, .first_bad_seq, .problem]' "$work/out")" '[false,7,"head_differs"]'

# Another key: every hash differs from the first event on.
restore
cp "$key" "$work/key.orig"
head -c 32 /dev/urandom >"$key"
chmod 600 "$key"
expect_exit "another key file" 1 --config "$conf" audit verify
grep_out "another key: names event 1 and the key file as a cause" \
    "^Audit log broken at event 1: .*the key file is not the one"
expect_exit "another key --json" 1 --config "$conf" audit verify --json
is "another key --json" "$(jq -c '[.events, .first_bad_seq]' "$work/out")" '[0,1]'
cp "$work/key.orig" "$key"
chmod 600 "$key"
expect_exit "the right key again: intact" 0 --config "$conf" audit verify

# Control characters and bytes that are not UTF-8 never reach the terminal or the SIEM raw.
sq "INSERT INTO audit VALUES (8, '2026-01-01T00:00:00Z', 'h', 's', 't', CAST(x'66ff' AS TEXT),
    'taro', 'x', 'auth', '', 'failure', char(27) || '[31mred' || char(155) || char(10) || 'x',
    zeroblob(32), zeroblob(32))"
expect_exit "control characters: list" 0 --config "$conf" audit list --user taro
is "list: still one line per event" "$(wc -l <"$work/out")" "$(sq "SELECT count(*) FROM audit WHERE user='taro'")"
tail -1 "$work/out" >"$work/forged.txt"
check "list: no ESC, C1 or non-UTF-8 byte" sh -c "! LC_ALL=C grep -q -P '[\x1b\x80-\x9f\xff]' '$work/forged.txt'"
is "list: replaced by ?" "$(line_of 8 | cut -f8,12)" "?[31mred??x	f?"
expect_exit "control characters: list --json" 0 --config "$conf" audit list --json
is "list --json: parses; the reason's characters kept, escaped" \
    "$(jq -c '.[] | select(.seq == 8) | [(.reason | explode), .rhost]' "$work/out")" \
    '[[27,91,51,49,109,114,101,100,155,10,120],"f?"]'
expect_exit "control characters: export" 0 --config "$conf" audit export
is "export: every line still parses" "$(jq -s length "$work/out" 2>/dev/null)" 8
expect_exit "verify: the forged event" 1 --config "$conf" audit verify
grep_out "verify: names event 8" "^Audit log broken at event 8:"

# ---- a date is a local date, as in report: 1 April in Japan starts at 15:00 UTC on 31
#      March; --until ends the period (exclusive)
sq "INSERT INTO audit VALUES (9, '2026-03-31T16:00:00Z', 'h', 's', 't', '', 'jst', 'x', 'auth', '',
    'failure', 'one o''clock on 1 April in Japan', zeroblob(32), zeroblob(32))"
sq "INSERT INTO audit VALUES (10, '2026-04-01T16:00:00Z', 'h', 's', 't', '', 'jst', 'x', 'auth', '',
    'failure', 'one o''clock on 2 April in Japan', zeroblob(32), zeroblob(32))"
TZ=JST-9 expect_exit "list --since a day, in Japan" 0 --config "$conf" audit list --user jst --since 2026-04-01
is "--since a day: from local midnight" "$(cut -f1 "$work/out" | tr '\n' ' ')" "9 10 "
TZ=JST-9 expect_exit "list --since --until, one day in Japan" 0 --config "$conf" audit list --user jst \
    --since 2026-04-01 --until 2026-04-02
is "--since --until one day: that day's event only" "$(cut -f1 "$work/out" | tr '\n' ' ')" "9 "
TZ=JST-9 expect_exit "export --until a UTC time" 0 --config "$conf" audit export --user jst \
    --until 2026-04-01T16:00:00Z
is "export --until a time: before it, not at it" "$(jq -s -c '[.[].seq]' "$work/out")" '[9]'
TZ=JST-9 expect_exit "list --json --until before every event" 0 --config "$conf" audit list --json \
    --until 2000-01-01
is "--until before every event --json: an empty array" "$(jq -c . "$work/out")" '[]'
TZ=JST-9 expect_exit "list --json --since --until" 0 --config "$conf" audit list --json --user jst \
    --since 2026-04-01
is "--json: the events of the period" "$(jq -c '[.[].seq]' "$work/out")" '[9,10]'
usage_error "--since after --until" --until --config "$conf" audit list --since 2026-04-02 --until 2026-04-01
usage_error "--since equal to --until" --until --config "$conf" audit export --since 2026-04-01 \
    --until 2026-04-01
usage_error "--until twice" --until --config "$conf" audit list --until 2026-04-01 --until 2026-04-02
usage_error "--until: not a date" --until --config "$conf" audit list --until tomorrow
usage_error "verify: --until would hide a break" --until --config "$conf" audit verify --until 2026-04-01

# ---- invisible and direction characters: U+202E shows "orat" as "taro"
sq "INSERT INTO audit VALUES (11, '2026-04-03T00:00:00Z', 'h', 's', 't', '',
    char(8238) || 'orat' || char(8203), 'x', 'auth', '', 'failure', 'x' || char(8294) || 'y' || char(173) || 'z',
    zeroblob(32), zeroblob(32))"
expect_exit "direction characters: list" 0 --config "$conf" audit list --since 2026-04-03T00:00:00Z \
    --until 2026-04-03T00:00:01Z
is "list: U+202E, U+200B, U+2066 and U+00AD shown as ?" "$(cut -f3,8 "$work/out")" "?orat?	x?y?z"

echo "1..$n"
