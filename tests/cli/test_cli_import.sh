#!/usr/bin/env bash
# mnzone-enroll import --csv: RFC 4180 quoting, Japanese names, all rows or none,
# errors that name the line and the field, QR files in a new 0700 folder. TAP.
set -u
tool="$MZ_BUILDDIR/enroll/mnzone-enroll"
OATHTOOL=${OATHTOOL:-oathtool}
ZBARIMG=${ZBARIMG:-zbarimg}
for need in "$OATHTOOL" "$ZBARIMG" jq sqlite3; do
    command -v "$need" >/dev/null 2>&1 || { echo "1..0 # SKIP $need not installed"; exit 0; }
done
. "$(dirname "$0")/tap.sh"
work=$(mktemp -d /tmp/mz-import.XXXXXX); chmod 0700 "$work"; trap 'rm -rf "$work"' EXIT
db="$work/store/mnzone.db"
printf 'store = %s\nkey_file = %s/mnzone.key\nissuer = 盛岡市\ntime_sync = off\n' "$db" "$work" >"$work/mnzone.conf"
cli() { "$tool" --config "$work/mnzone.conf" "$@" >"$work/out" 2>"$work/err" </dev/null; }
staff_count() { sqlite3 "$db" "SELECT count(*) FROM staff"; }
cli init
secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP

# --- a good file: header, quoted commas, doubled quotes, Japanese (names and departments
#     refuse control characters, so a quoted newline is an error, tested below)
cat >"$work/ok.csv" <<'CSV'
user,staff_id,name,department,employment,valid_until,secret
sato,2001,"佐藤, ""花子""",保険年金課,fiscal-year,fiscal-year-end,
ito,2002,伊藤 一郎,"税務課,固定資産税係",,2027-03-31,JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
CSV
cli import --csv "$work/ok.csv" --qr-dir "$work/qr"; rc=$?
check "import exit 0" [ $rc -eq 0 ]
check "two staff members" [ "$(staff_count)" = 2 ]
check "quoted comma and doubled quote in a name" [ "$(sqlite3 "$db" "SELECT full_name FROM staff WHERE login='sato'")" = '佐藤, "花子"' ]
check "quoted comma in a department" [ "$(sqlite3 "$db" "SELECT department FROM staff WHERE login='ito'")" = '税務課,固定資産税係' ]
check "empty employment is regular" [ "$(sqlite3 "$db" "SELECT employment FROM staff WHERE login='ito'")" = regular ]
check "QR folder is mode 700" [ "$(stat -c %a "$work/qr")" = 700 ]
check "QR file for the row without a secret, mode 600" [ "$(stat -c %a "$work/qr/sato.png" 2>/dev/null)" = 600 ]
check "no QR file for the row with a secret" [ ! -e "$work/qr/ito.png" ]
uri=$("$ZBARIMG" -q --raw "$work/qr/sato.png" 2>/dev/null)
case "$uri" in "otpauth://totp/%E7%9B%9B%E5%B2%A1%E5%B8%82:sato?secret="*) ok "QR decodes to sato's otpauth URI" ;; *) not_ok "QR: $uri" ;; esac
cli verify ito "$("$OATHTOOL" --totp -b $secret)"
check "imported secret works with verify" [ $? -eq 0 ]
check "import is audited per staff member" [ "$(sqlite3 "$db" "SELECT count(*) FROM audit WHERE event='import'")" = 2 ]
qsecret=$(printf '%s' "$uri" | sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p')
cli verify sato "$("$OATHTOOL" --totp -b "$qsecret")"
check "the QR's secret is the stored one" [ $? -eq 0 ]

# --- all rows or none, line numbers, field names
bad() { # NAME LINE FIELD CONTENT...: the import fails with exit 2 naming LINE and FIELD
    local name=$1 line=$2 field=$3; shift 3
    printf '%s\n' "$@" >"$work/bad.csv"
    local before; before=$(staff_count)
    cli import --csv "$work/bad.csv" --qr-dir "$work/qr-bad"; local rc=$?
    if [ $rc -eq 2 ] && grep -q "bad.csv:$line: $field" "$work/err" && [ "$(staff_count)" = "$before" ] && [ ! -e "$work/qr-bad" ]; then
        ok "$name: exit 2, line $line, field $field, nothing imported, no QR folder left"
    else
        not_ok "$name: exit $rc, $(cat "$work/err")"
    fi
}
header='user,staff_id,name,department,employment,valid_until'
bad "bad employment on the last line" 4 employment "$header" 'a1,3001,A,,,' 'a2,3002,B,,,' 'a3,3003,C,,boss,'
bad "bad date" 3 valid_until "$header" 'a1,3001,A,,,' 'a2,3002,B,,,2027-02-30'
bad "bad login" 2 user "$header" 'a/1,3001,A,,,'
bad "bad staff id" 2 staff_id "$header" 'a1,30 01,A,,,'
bad "empty name" 2 name "$header" 'a1,3001,,,,'
bad "bad secret" 2 secret "$header,secret" 'a1,3001,A,,,,NOT-BASE32!'
bad "short secret" 2 secret "$header,secret" 'a1,3001,A,,,,JBSWY3DP'
bad "a quoted newline in a name: refused at the record's first line" 3 name "$header" 'a1,3001,A,,,' 'a2,3002,"B' 'C",,,' 'a4,3004,D,,,'
bad "duplicate login in the file" 3 "" "$header" 'a1,3001,A,,,' 'a1,3002,B,,,'
bad "a bad row after blank lines: its own line" 5 employment "$header" 'a1,3001,A,,,' '' '' 'a2,3002,B,,boss,'
bad "a field of 1025 bytes: the field named" 2 "name: longer than 1024 bytes" "$header" \
    "a1,3001,$(printf 'x%.0s' $(seq 1025)),,,"
bad "login already in the store" 2 "" "$header" 'sato,3001,A,,,'
printf '%s\r%s\r%s\r' "$header" 'c1,3101,C1,,,' 'c2,3102,C2,,boss,' >"$work/cr.csv"
cli import --csv "$work/cr.csv" --qr-dir "$work/qr-cr"
check "lone CR line ends: exit 2" [ $? -eq 2 ]
grep -q "cr.csv:3: employment" "$work/err" && ok "lone CR line ends: the bad row's line is named" || not_ok "lone CR line ends: $(cat "$work/err")"
printf '%s\n%s\n' "$header" 'a1,3001,A,,' >"$work/short.csv"
cli import --csv "$work/short.csv" --qr-dir "$work/qr-short"
check "too few fields: exit 2" [ $? -eq 2 ]
grep -q "short.csv:2:" "$work/err" && ok "too few fields: line named" || not_ok "too few fields: line named"
printf '%s\n%s\n' "$header" 'a1,3001,"A,,,' >"$work/open.csv"
cli import --csv "$work/open.csv" --qr-dir "$work/qr-open"
check "unterminated quote: exit 2" [ $? -eq 2 ]
printf 'user,staff_id,name\n' >"$work/hdr.csv"
cli import --csv "$work/hdr.csv"
check "wrong header: exit 2" [ $? -eq 2 ]
printf '%s\n%s\n' "$header" 'a1,3001,A,,,' >"$work/nosecret.csv"
cli import --csv "$work/nosecret.csv"
check "rows without a secret need --qr-dir: exit 2" [ $? -eq 2 ]
cli import --csv "$work/ok.csv" --qr-dir "$work/qr"
check "existing --qr-dir: exit 2" [ $? -eq 2 ]
check "existing --qr-dir left alone" [ -e "$work/qr/sato.png" ]
cli import --csv "$work/missing.csv"
check "missing file: exit 2" [ $? -eq 2 ]
cli import
check "no --csv: exit 2" [ $? -eq 2 ]

# --- without a header, CRLF line ends, --json
printf 'b1,4001,B1,,,,%s\r\nb2,4002,B2,,contractor,,%s\r\n' $secret $secret >"$work/crlf.csv"
"$tool" --config "$work/mnzone.conf" import --csv "$work/crlf.csv" --json >"$work/out" 2>"$work/err"
check "CRLF, no header, --json: exit 0" [ $? -eq 0 ]
check "--json imported count" [ "$(jq -r .imported "$work/out")" = 2 ]
check "contractor kept" [ "$(sqlite3 "$db" "SELECT employment FROM staff WHERE login='b2'")" = contractor ]
rawhex=$(printf '%s' "$secret" | base32 -d | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
check "secret sealed: its bytes are in no credential" \
    [ "$(sqlite3 "$db" "SELECT count(*) FROM credentials WHERE instr(hex(secret), '$rawhex') > 0")" = 0 ]
check "secret sealed: the store has credentials to look in" \
    [ "$(sqlite3 "$db" "SELECT count(*) FROM credentials WHERE length(secret) > 20")" -gt 0 ]

# --- migration from pam_oath: rows without a secret take it from the users file
hex=3132333435363738393031323334353637383930
cat >"$work/users.oath" <<OATH
# pam_oath users file

HOTP/T30 o1 - $hex
HOTP/T30/6 o4 1234 $hex
HOTP o3 - $hex
OATH
printf '%s\n%s\n%s\n' "$header" 'o1,5001,O1,,,' 'o2,5002,O2,,,' >"$work/oath.csv"
cli import --csv "$work/oath.csv" --oath-usersfile "$work/users.oath" --qr-dir "$work/qr-oath"
check "oath users file with CSV: exit 0" [ $? -eq 0 ]
cli verify o1 "$("$OATHTOOL" --totp "$hex")"
check "o1 logs in with its pam_oath secret" [ $? -eq 0 ]
check "o2 (not in the users file) got a QR code" [ -e "$work/qr-oath/o2.png" ]
check "o1 got no QR code" [ ! -e "$work/qr-oath/o1.png" ]
printf '%s\n%s\n' "$header" 'o3,5003,O3,,,' >"$work/hotp.csv"
cli import --csv "$work/hotp.csv" --oath-usersfile "$work/users.oath" --qr-dir "$work/qr-hotp"
check "counter-based HOTP user: exit 2" [ $? -eq 2 ]
grep -q "users.oath:5:" "$work/err" && ok "HOTP refusal names the users file line" || not_ok "HOTP refusal names the line: $(cat "$work/err")"
check "HOTP refusal: o3 not enrolled" [ -z "$(sqlite3 "$db" "SELECT 1 FROM staff WHERE login='o3'")" ]
printf 'HOTP/T30 ok - %s\nHOTP/T30 broken - nothex\nHOTP/T30 dup - %s\nHOTP/T30 dup - %s\nshort\n' \
    $hex $hex 4142434445464748494a4b4c4d4e4f5051525354 >"$work/bad.oath"
printf '%s\n%s\n' "$header" 'broken,5101,Br,,,' >"$work/broken.csv"
cli import --csv "$work/broken.csv" --oath-usersfile "$work/bad.oath" --qr-dir "$work/qr-bad2"
check "a row whose users-file line is malformed: exit 2" [ $? -eq 2 ]
grep -q "bad.oath:2: broken:" "$work/err" && ok "malformed line: named with its user" ||
    not_ok "malformed line named: $(cat "$work/err")"
printf '%s\n%s\n' "$header" 'dup,5102,Du,,,' >"$work/dup.csv"
cli import --csv "$work/dup.csv" --oath-usersfile "$work/bad.oath" --qr-dir "$work/qr-bad3"
check "a user with two lines (two tokens): exit 2, not whichever sorts first" [ $? -eq 2 ]
grep -q "bad.oath:3 and 4: two lines for dup" "$work/err" && ok "two lines: both named" ||
    not_ok "two lines named: $(cat "$work/err")"
check "two lines: dup not enrolled" [ -z "$(sqlite3 "$db" "SELECT 1 FROM staff WHERE login='dup'")" ]
printf '%s\n%s\n' "$header" 'ok,5103,Ok,,,' >"$work/okrow.csv"
cli import --csv "$work/okrow.csv" --oath-usersfile "$work/bad.oath"
check "lines of other users that cannot be used do not stop the rows they do not serve" [ $? -eq 0 ]
cli verify ok "$("$OATHTOOL" --totp "$hex")"
check "ok logs in with its pam_oath secret" [ $? -eq 0 ]

# --- migration from google-authenticator
gsecret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
printf '%s\n" RATE_LIMIT 3 30\n" WINDOW_SIZE 3\n" DISALLOW_REUSE\n" TOTP_AUTH\n12345678\n23456789\n' $gsecret >"$work/ga"
chmod 400 "$work/ga"
cli import --google-authenticator "$work/ga" --user g1 --staff-id 6001 --name 'G 一'
check "google-authenticator: exit 0" [ $? -eq 0 ]
grep -q "2 scratch codes" "$work/out" && ok "scratch codes reported as not carried over" || not_ok "scratch codes reported: $(cat "$work/out")"
cli verify g1 "$("$OATHTOOL" --totp -b $gsecret)"
check "g1 logs in with its google-authenticator secret" [ $? -eq 0 ]
printf '%s\n" RATE_LIMIT 3 30\n12345678\n' $gsecret >"$work/ga-hotp"
cli import --google-authenticator "$work/ga-hotp" --user g2 --staff-id 6002 --name G2
check "google-authenticator HOTP file: exit 2" [ $? -eq 2 ]
printf '%s\n" STEP_SIZE 60\n" TOTP_AUTH\n' $gsecret >"$work/ga-60"
cli import --google-authenticator "$work/ga-60" --user g3 --staff-id 6003 --name G3
check "google-authenticator STEP_SIZE 60 with totp_period 30: exit 2" [ $? -eq 2 ]
ln -s "$work/ga" "$work/ga-link"
cli import --google-authenticator "$work/ga-link" --user g4 --staff-id 6004 --name G4
check "google-authenticator file behind a link: exit 2" [ $? -eq 2 ]
cli import --google-authenticator "$work/ga" --user g5 --name G5
check "google-authenticator without --staff-id: exit 2" [ $? -eq 2 ]
cli import --google-authenticator "$work/ga" --csv "$work/ok.csv" --user g6 --staff-id 6006 --name G6
check "google-authenticator with --csv: exit 2" [ $? -eq 2 ]
check "no g2..g6 enrolled" [ "$(sqlite3 "$db" "SELECT count(*) FROM staff WHERE login IN ('g2','g3','g4','g5','g6')")" = 0 ]
cli import --google-authenticator "$work/ga" --user g7 --staff-id 6007 --name G7
grep -q "WINDOW_SIZE, TIME_SKEW or RATE_LIMIT were not carried over" "$work/out" &&
    ok "google-authenticator: says its per-user options were not carried over" ||
    not_ok "options not carried over: $(cat "$work/out")"
cli import --google-authenticator "$work/ga" --user g11 --staff-id 6011 --name G11 --json
check "google-authenticator --json: the options not carried over" \
    [ "$(jq -c .options_dropped "$work/out")" = '["WINDOW_SIZE","RATE_LIMIT"]' ]
# the codes google-authenticator already accepted stay used (DISALLOW_REUSE lists steps)
step=$(($(date +%s) / 30))
printf '%s\n" DISALLOW_REUSE %s %s\n" TOTP_AUTH\n' $gsecret $((step - 5)) $step >"$work/ga-used"
chmod 400 "$work/ga-used"
cli import --google-authenticator "$work/ga-used" --user g8 --staff-id 6008 --name G8
check "google-authenticator with used codes: exit 0" [ $? -eq 0 ]
check "the newest used step is the credential's last step" \
    [ "$(sqlite3 "$db" "SELECT last_step FROM credentials WHERE login = 'g8'")" = "$step" ]
cli verify g8 "$("$OATHTOOL" --totp -b $gsecret -N "@$((step * 30))")"
check "a code google-authenticator accepted is refused after the migration" [ $? -eq 1 ]
grep -q "already used" "$work/out" && ok "... as already used" || not_ok "already used: $(cat "$work/out")"
printf '%s\n" DISALLOW_REUSE %s\n" TOTP_AUTH\n' $gsecret $((step + 1000)) >"$work/ga-future"
chmod 400 "$work/ga-future"
cli import --google-authenticator "$work/ga-future" --user g9 --staff-id 6009 --name G9
check "DISALLOW_REUSE of the future: exit 2" [ $? -eq 2 ]
printf 'store = %s\nkey_file = %s/mnzone.key\ntime_sync = off\ntotp_digits = 8\n' "$db" "$work" >"$work/eight.conf"
"$tool" --config "$work/eight.conf" import --google-authenticator "$work/ga" --user g10 --staff-id 6010 \
    --name G10 >"$work/out" 2>"$work/err" </dev/null
check "google-authenticator with totp_digits = 8: exit 2 (its codes have 6)" [ $? -eq 2 ]
check "no g9, g10 enrolled" [ "$(sqlite3 "$db" "SELECT count(*) FROM staff WHERE login IN ('g9','g10')")" = 0 ]

# --- the QR folder replaced by a link while an import runs: the QR files go on into the
#     folder the import made (held by its descriptor), and the failed import's clean-up
#     removes nothing where the link points
mkdir -m 0700 "$work/victim"
echo keep >"$work/victim/canary"
{
    echo "$header"
    for i in $(seq 1 4000); do echo "v$i,V$i,V $i,,,"; done
    echo 'vbad,VBAD,Bad,,boss,'
} >"$work/swap.csv"
"$tool" --config "$work/mnzone.conf" import --csv "$work/swap.csv" --qr-dir "$work/qr-swap" \
    >/dev/null 2>"$work/err" </dev/null &
imp=$!
for _ in $(seq 1000); do [ -e "$work/qr-swap/v1.png" ] && break; sleep 0.01; done
running=no
kill -0 $imp 2>/dev/null && running=yes
mv "$work/qr-swap" "$work/qr-moved" && ln -s "$work/victim" "$work/qr-swap"
wait $imp
rc=$?
check "QR folder swapped for a link while the import ran ($running): it fails on its bad row (exit $rc)" \
    sh -c "[ $running = yes ] && [ $rc -eq 2 ]"
check "QR folder swapped: the file where the link points is kept" [ -e "$work/victim/canary" ]
check "QR folder swapped: no QR file went through the link" \
    [ "$(find "$work/victim" -name '*.png' | wc -l)" = 0 ]
check "QR folder swapped: the folder the import made is emptied" \
    [ -z "$(ls -A "$work/qr-moved" 2>/dev/null)" ]
check "QR folder swapped: the link is left alone" [ -L "$work/qr-swap" ]

# --- with --csv, a staff member's details come from the file's columns: an option for
#     them would be ignored, so it is refused
cli import --csv "$work/ok.csv" --valid-until 2026-04-30
check "--csv with --valid-until: exit 2" [ $? -eq 2 ]
grep -q -- "--valid-until: not with --csv" "$work/err" && ok "--csv with --valid-until: says so" ||
    not_ok "--valid-until with --csv: $(cat "$work/err")"
cli import --csv "$work/ok.csv" --dept=X
check "--csv with --dept=X: exit 2" [ $? -eq 2 ]

# --- a UTF-8 byte order mark ("CSV UTF-8" from a spreadsheet) is not part of the first login
printf '\xef\xbb\xbfbom1,7301,B1,,,,%s\r\n' "$secret" >"$work/bom.csv"
cli import --csv "$work/bom.csv"
check "BOM, no header: exit 0" [ $? -eq 0 ]
is "BOM, no header: the login without it" "$(sqlite3 "$db" "SELECT hex(login) FROM staff WHERE staff_id = '7301'")" \
    "$(printf bom1 | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
printf '\xef\xbb\xbf%s,secret\r\nbom2,7302,B2,,,,%s\r\n' "$header" "$secret" >"$work/bom2.csv"
cli import --csv "$work/bom2.csv"
check "BOM before the header: read as the header, exit 0" [ $? -eq 0 ]
check "BOM before the header: the row imported" [ "$(sqlite3 "$db" "SELECT login FROM staff WHERE staff_id = '7302'")" = bom2 ]

# --- the QR codes are drawn before the transaction (it used to hold the store's write
#     lock for 2 to 3 ms a row, and logins gave up after 5 s), and a file that changes
#     between the two readings is refused. lockprobe.so (tests only) acts at the first
#     fsync, the first QR file's.
probe="$MZ_BUILDDIR/tests/tools/.libs/lockprobe.so"
asan=$(ldd "$tool" 2>/dev/null | awk '/libasan\.so/ { print $3; exit }')
printf '%s\n' "$header" 'lp1,7101,P1,,,' 'lp2,7102,P2,,,' >"$work/lp.csv"
LD_PRELOAD=${asan:+$asan:}$probe LOCKPROBE_DB="$db" LOCKPROBE_OUT="$work/probe" \
    "$tool" --config "$work/mnzone.conf" import --csv "$work/lp.csv" --qr-dir "$work/qr-lp" \
    >"$work/out" 2>"$work/err" </dev/null
check "import with the probe: exit 0" [ $? -eq 0 ]
is "while the QR codes are drawn the store's write lock is free" "$(cat "$work/probe" 2>/dev/null)" free
uri=$("$ZBARIMG" -q --raw "$work/qr-lp/lp2.png" 2>/dev/null)
qsecret=$(printf '%s' "$uri" | sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p')
cli verify lp2 "$("$OATHTOOL" --totp -b "$qsecret")"
check "two readings: the QR's secret is the one stored" [ $? -eq 0 ]
printf '%s\n' "$header" 'lq1,7201,Q1,,,' 'lq2,7202,Q2,,,' >"$work/lq.csv"
before=$(staff_count)
LD_PRELOAD=${asan:+$asan:}$probe LOCKPROBE_REWRITE="$work/lq.csv" \
    "$tool" --config "$work/mnzone.conf" import --csv "$work/lq.csv" --qr-dir "$work/qr-lq" \
    >"$work/out" 2>"$work/err" </dev/null
check "a file changed between the readings: exit 2" [ $? -eq 2 ]
grep -q "the file changed while it was imported" "$work/err" && ok "changed file: says so" ||
    not_ok "changed file: $(cat "$work/err")"
check "changed file: nothing imported" [ "$(staff_count)" = "$before" ]
check "changed file: no QR folder left" [ ! -e "$work/qr-lq" ]
cli import --csv /dev/null --qr-dir "$work/qr-dev"
check "--qr-dir with a file that is not regular (a device): exit 2 (it is read twice)" [ $? -eq 2 ]
grep -q "give a regular file" "$work/err" && ok "not a regular file with --qr-dir: says so" ||
    not_ok "not a regular file with --qr-dir: $(cat "$work/err")"
check "not a regular file: no QR folder made" [ ! -e "$work/qr-dev" ]

echo "1..$n"
