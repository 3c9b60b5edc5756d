#!/usr/bin/env bash
# Tests of the built mnzone-enroll: every command here, every exit code, JSON parsed
# back with jq, QR codes decoded back with zbarimg, file modes. TAP output.
# Codes come from oathtool, never from mnzone.
set -u
tool="$MZ_BUILDDIR/enroll/mnzone-enroll"
OATHTOOL=${OATHTOOL:-oathtool}
ZBARIMG=${ZBARIMG:-zbarimg}
for need in "$OATHTOOL" "$ZBARIMG" jq sqlite3 rsvg-convert; do
    if ! command -v "$need" >/dev/null 2>&1; then
        echo "1..0 # SKIP $need not installed (./quickstart test installs it)"
        exit 0
    fi
done

. "$(dirname "$0")/tap.sh"
mode_of() { stat -c %a "$1"; }

work=$(mktemp -d /tmp/mz-cli.XXXXXX)
chmod 0700 "$work"
trap 'rm -rf "$work"' EXIT
conf="$work/mnzone.conf"
db="$work/store/mnzone.db"
cat >"$conf" <<CONF
store = $db
key_file = $work/mnzone.key
issuer = 岩手県後期高齢者医療広域連合
time_sync = off
CONF
cli() { "$tool" --config "$conf" "$@"; }
secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP
code() { "$OATHTOOL" --totp -b "$1"; }

# --- usage
expect_exit "--help" 0 --help
expect_exit "no command" 2
expect_exit "unknown command" 2 --config "$conf" frobnicate
expect_exit "unknown global option" 2 --frobnicate init

# --- configuration and store problems are exit 4 and name the file
expect_exit "missing --config file" 4 --config "$work/nope.conf" show x
grep -q "nope.conf" "$work/err" && ok "missing config named" || not_ok "missing config named"
printf 'zone = mynumber\nfrobnicate = 1\n' >"$work/bad.conf"
expect_exit "unknown key in config" 4 --config "$work/bad.conf" show x
grep -q "bad.conf:2" "$work/err" && ok "bad key reported with file:line" || not_ok "bad key reported with file:line"
expect_exit "show before init: no store" 4 --config "$conf" show taro
grep -q "mnzone-enroll init" "$work/err" && ok "no store: says to run init" || not_ok "no store: says to run init"

# --- init
expect_exit "init" 0 --config "$conf" init
check "key file is mode 600" [ "$(mode_of "$work/mnzone.key")" = 600 ]
check "key file has 32 bytes" [ "$(stat -c %s "$work/mnzone.key")" = 32 ]
check "store is mode 600" [ "$(mode_of "$db")" = 600 ]
check "store folder is mode 700" [ "$(mode_of "$work/store")" = 700 ]
check "store is in WAL mode" [ "$(sqlite3 "$db" 'PRAGMA journal_mode')" = wal ]
key_before=$(sha256sum <"$work/mnzone.key")
expect_exit "init again" 0 --config "$conf" init
check "init again keeps the key" [ "$(sha256sum <"$work/mnzone.key")" = "$key_before" ]
# a store whose key file is lost: init makes no new key (it could not read the store)
mv "$work/mnzone.key" "$work/mnzone.key.saved"
expect_exit "init: store there, key file lost" 4 --config "$conf" init
check "init: store there, key file lost: no key made" [ ! -e "$work/mnzone.key" ]
grep -q "put the key file back" "$work/err" && ok "init: says to put the key back" || not_ok "init: says to put the key back"
mv "$work/mnzone.key.saved" "$work/mnzone.key"

# --- add: input rules (exit 2, field named)
expect_exit "add: bad login" 2 --config "$conf" add 'a/b' --staff-id 1 --name X --no-verify
expect_exit "add: login of 33 bytes" 2 --config "$conf" add "$(printf 'a%.0s' $(seq 33))" --staff-id 1 --name X --no-verify
expect_exit "add: no staff id" 2 --config "$conf" add taro --name X --no-verify
expect_exit "add: bad staff id" 2 --config "$conf" add taro --staff-id 'a b' --name X --no-verify
grep -q -- "--staff-id" "$work/err" && ok "bad staff id: field named" || not_ok "bad staff id: field named"
expect_exit "add: no name" 2 --config "$conf" add taro --staff-id 1001 --no-verify
expect_exit "add: impossible date" 2 --config "$conf" add taro --staff-id 1001 --name X --valid-until 2027-02-30 --no-verify
expect_exit "add: bad employment" 2 --config "$conf" add taro --staff-id 1001 --name X --employment boss --no-verify
expect_exit "add: bad secret" 2 --config "$conf" add taro --staff-id 1001 --name X --secret 'NOT*BASE32' --no-verify
expect_exit "add: short secret" 2 --config "$conf" add taro --staff-id 1001 --name X --secret JBSWY3DP --no-verify
expect_exit "add: a mistyped --secret=" 2 --config "$conf" add taro --staff-id 1001 --name X --secrte=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP --no-verify
grep -q JBSWY3DP "$work/err" && not_ok "add: a mistyped --secret= shows the secret" || ok "add: a mistyped --secret= does not show the secret"
expect_exit "add: --code with --no-verify" 2 --config "$conf" add taro --staff-id 1001 --name X --code 123456 --no-verify
expect_exit "add: no terminal and no --code" 2 --config "$conf" add taro --staff-id 1001 --name X
# No emulated key here (test_cli_yubikey.sh has one and checks the message): the real
# libykpers finds no key, or no USB at all on a machine without it.
expect_exit "add: --method yubikey, no key plugged in" 4 --config "$conf" add taro --staff-id 1001 --name X --method yubikey
expect_exit "add: no key: taro not enrolled" 3 --config "$conf" show taro

# --- add: a wrong first code enrols nothing
wrong=$(( (10#$(code $secret) + 1) % 1000000 )); wrong=$(printf "%06d" $wrong) # 10#: a leading 0 is not octal
expect_exit "add: wrong --code" 1 --config "$conf" add taro --staff-id 1001 --name '山田 太郎' --secret $secret --code "$wrong" --qr-png "$work/wrong.png"
check "wrong code: no QR file left behind" [ ! -e "$work/wrong.png" ]
expect_exit "wrong code: taro not enrolled" 3 --config "$conf" show taro

# --- add --secret -: the secret from standard input, not the command line
S_SAB=KRUGKIDROVUWG2ZAMJZG653OEBTG66BA
printf '%s\n' "$S_SAB" | "$tool" --config "$conf" add saburo --staff-id 1013 --name '三郎' \
    --secret - --code "$(code $S_SAB)" >"$work/out" 2>"$work/err"
check "add --secret -: the secret read from standard input (exit $?)" [ $? -eq 0 ]
expect_exit "add --secret -: the stored secret is that one (verify, next step)" 0 --config "$conf" \
    verify saburo "$("$OATHTOOL" --totp -b $S_SAB -N 'now + 30 seconds')"
"$tool" --config "$conf" add shiro --staff-id 1014 --name '四郎' --secret - --no-verify \
    </dev/null >"$work/out" 2>"$work/err"
check "add --secret - with nothing on standard input: exit 2" [ $? -eq 2 ]
grep -q "no secret on standard input" "$work/err" && ok "--secret -: says so" || not_ok "--secret -: $(cat "$work/err")"

# --- add: right code from oathtool, with the QR code in PNG and SVG
expect_exit "add with the right --code" 0 --config "$conf" add taro --staff-id 1001 --name '山田 太郎' \
    --dept '保険年金課' --employment fiscal-year --valid-until fiscal-year-end --secret $secret \
    --code "$(code $secret)" --qr-png "$work/taro.png" --qr-svg "$work/taro.svg"
uri=$(sed -n 's/^.*URI: //p' "$work/out" | head -1)
check "URI printed" [ -n "$uri" ]
case "$uri" in *"otpauth://totp/%E5%B2%A9%E6%89%8B%E7%9C%8C"*":taro?secret=$secret&issuer=%E5%B2%A9"*"&algorithm=SHA1&digits=6&period=30") ok "URI: issuer percent-encoded, label, secret, parameters" ;; *) not_ok "URI: $uri" ;; esac
grep -q $'\u2580\|\u2584' "$work/out" && ok "QR drawn in the terminal with half blocks" || not_ok "QR drawn in the terminal"
check "PNG is mode 600" [ "$(mode_of "$work/taro.png")" = 600 ]
check "SVG is mode 600" [ "$(mode_of "$work/taro.svg")" = 600 ]
check "PNG decodes to exactly the URI" [ "$("$ZBARIMG" -q --raw "$work/taro.png" 2>/dev/null)" = "$uri" ]
rsvg-convert -o "$work/svg.png" "$work/taro.svg" 2>/dev/null
check "SVG decodes to exactly the URI" [ "$("$ZBARIMG" -q --raw "$work/svg.png" 2>/dev/null)" = "$uri" ]
grep -q "0600" "$work/out" && ok "the tool says the QR file is private" || not_ok "the tool says the QR file is private"

# --- the secret is not in the store in clear
hexsecret=$(printf '%s' $secret | base32 -d | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
check "secret sealed at rest" [ -z "$(sqlite3 "$db" "SELECT 1 FROM credentials WHERE instr(hex(secret), '$hexsecret') > 0")" ]
check "secret not in the store file" sh -c "! grep -q '$secret' '$db'"

# --- duplicates, existing files
expect_exit "add: taro again" 2 --config "$conf" add taro --staff-id 1009 --name X --no-verify
expect_exit "add: staff id taken" 2 --config "$conf" add hanako --staff-id 1001 --name X --no-verify
touch "$work/exists.png"; chmod 600 "$work/exists.png"
expect_exit "add: QR file exists already" 2 --config "$conf" add hanako --staff-id 1002 --name X --no-verify --qr-png "$work/exists.png"
check "existing file left alone" [ ! -s "$work/exists.png" ]
ln -s "$work/elsewhere.png" "$work/link.png"
expect_exit "add: QR path is a symlink" 2 --config "$conf" add hanako --staff-id 1002 --name X --no-verify --qr-png "$work/link.png"
check "symlink target not created" [ ! -e "$work/elsewhere.png" ]

# --- add --json, SUDO_USER recorded as the actor
SUDO_USER=kanri01 "$tool" --config "$conf" add hanako --staff-id 1002 --name '佐藤 花子' --no-verify --json >"$work/hanako.json" 2>"$work/err" </dev/null
check "add --json exit 0" [ $? -eq 0 ]
check "add --json: user" [ "$(jq -r .user "$work/hanako.json")" = hanako ]
check "add --json: verified false with --no-verify" [ "$(jq -r .verified "$work/hanako.json")" = false ]
hsecret=$(jq -r .uri "$work/hanako.json" | sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p')
check "generated secret is 160 bits" [ "$(printf '%s' "$hsecret" | base32 -d 2>/dev/null | wc -c)" = 20 ]
check "actor from SUDO_USER in the audit log" [ "$(sqlite3 "$db" "SELECT actor FROM audit WHERE event='add' AND user='hanako'")" = kanri01 ]
check "actor in the staff record" [ "$(sqlite3 "$db" "SELECT created_by FROM staff WHERE login='hanako'")" = kanri01 ]

# --- show
expect_exit "show taro" 0 --config "$conf" show taro
grep -q '山田 太郎' "$work/out" && ok "show: name" || not_ok "show: name"
expect_exit "show --json" 0 --config "$conf" show taro --json
j="$work/out"
check "show --json: staff id" [ "$(jq -r .staff_id "$j")" = 1001 ]
check "show --json: department" [ "$(jq -r .department "$j")" = '保険年金課' ]
check "show --json: employment" [ "$(jq -r .employment "$j")" = fiscal-year ]
y=$(date +%Y); m=$(date +%-m); [ "$m" -ge 4 ] && y=$((y + 1))
check "show --json: fiscal-year-end is the next 31 March" [ "$(jq -r .valid_until "$j")" = "$y-03-31" ]
check "show --json: one active totp credential" [ "$(jq -r '[.credentials[] | select(.status=="active" and .method=="totp")] | length' "$j")" = 1 ]
check "show --json: no secret" sh -c "! grep -qi secret '$j'"
check "show --json: login state" [ "$(jq -r .login_state.failures "$j")" = 0 ]
expect_exit "show unknown user" 3 --config "$conf" show nobody
expect_exit "show bad login" 2 --config "$conf" show 'x/y'

# --- add on a terminal asks for the first code (script(1) gives it a pseudo-terminal)
if command -v script >/dev/null 2>&1; then
    tsecret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
    (sleep 1; code $tsecret) | script -qec "'$tool' --config '$conf' add tty1 --staff-id 7001 --name T --secret $tsecret" /dev/null >"$work/tty1" 2>&1
    check "terminal: the right code typed at the prompt enrols (exit 0)" [ $? -eq 0 ]
    check "terminal: tty1 enrolled" [ "$(sqlite3 "$db" "SELECT count(*) FROM credentials WHERE login='tty1' AND status='active'")" = 1 ]
    (sleep 1; echo 000000; sleep 0.3; echo 111111; sleep 0.3; echo 222222) |
        script -qec "'$tool' --config '$conf' add tty2 --staff-id 7002 --name T --secret $tsecret" /dev/null >"$work/tty2" 2>&1
    check "terminal: three wrong codes exit 1" [ $? -eq 1 ]
    check "terminal: three tries were asked for" [ "$(grep -a -c 'Code shown in the app' "$work/tty2")" = 3 ]
    check "terminal: nothing enrolled after wrong codes" [ -z "$(sqlite3 "$db" "SELECT 1 FROM staff WHERE login='tty2'")" ]
    check "terminal: the typed codes are not echoed" sh -c "! grep -a -q -e 000000 -e 111111 '$work/tty2'"
    # --json shows a new secret only at the end: no code could be read from the app before
    script -qec "'$tool' --config '$conf' add tty3 --staff-id 7003 --name T --json" /dev/null \
        >"$work/tty3" 2>&1 </dev/null
    check "terminal, --json, a new secret and nothing to scan: exit 2" [ $? -eq 2 ]
    check "terminal, --json: says what to give" grep -a -q -- "--json shows the secret only at the end" "$work/tty3"
    check "terminal, --json: nothing asked, nothing enrolled" sh -c \
        "! grep -a -q 'Code shown in the app' '$work/tty3' && [ -z \"\$(sqlite3 '$db' \"SELECT 1 FROM staff WHERE login='tty3'\")\" ]"
else
    n=$((n + 1)); echo "ok $n - terminal prompt # SKIP script(1) not installed"
fi

# --- a revoked login can be enrolled again (a rehire); its history stays
rsecret=MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U
expect_exit "re-enrol: first enrolment" 0 --config "$conf" add rehire --staff-id 1500 --name 'Old Name' --no-verify
expect_exit "re-enrol: revoke" 0 --config "$conf" revoke rehire --reason '退職'
expect_exit "re-enrol: another person's staff id is refused" 2 --config "$conf" add rehire --staff-id 1001 --name 'New Name' --no-verify
expect_exit "re-enrol: add again with a code" 0 --config "$conf" add rehire --staff-id 1501 --name 'New Name' \
    --employment fiscal-year --secret $rsecret --code "$(code $rsecret)"
check "re-enrol: active again with the new details" [ "$(sqlite3 "$db" "SELECT status || ' ' || staff_id || ' ' || full_name || ' ' || employment FROM staff WHERE login='rehire'")" = "active 1501 New Name fiscal-year" ]
check "re-enrol: the old credential stays revoked, the new one is active" [ "$(sqlite3 "$db" "SELECT group_concat(status, ',') FROM (SELECT status FROM credentials WHERE login='rehire' ORDER BY id)")" = "revoked,active" ]
check "re-enrol: audited as such" [ "$(sqlite3 "$db" "SELECT count(*) FROM audit WHERE user='rehire' AND event='add' AND reason='enrolled again after revocation'")" = 1 ]
"$tool" --config "$conf" verify rehire "$("$OATHTOOL" --totp -b $rsecret -N 'now + 30 seconds')" >/dev/null 2>&1
check "re-enrol: the new secret logs in" [ $? -eq 0 ]
expect_exit "re-enrol: add while active is still refused" 2 --config "$conf" add rehire --staff-id 1502 --name X --no-verify

# --- export --json: the whole register, no secrets
expect_exit "export without --json" 2 --config "$conf" export
expect_exit "export --json" 0 --config "$conf" export --json
check "export: every staff member" [ "$(jq '.staff | length' "$work/out")" = "$(sqlite3 "$db" 'SELECT count(*) FROM staff')" ]
check "export: taro's record equals show --json" [ "$(jq -c '.staff[] | select(.user=="taro") | del(.login_state)' "$work/out")" = "$("$tool" --config "$conf" show taro --json | jq -c 'del(.login_state)')" ]
check "export: no secret" sh -c "! grep -qi -e secret -e '$secret' '$work/out'"

# --- the confirmed code's step is used: the same code cannot log in afterwards
check "confirmed step recorded" [ "$(sqlite3 "$db" "SELECT last_step FROM credentials WHERE login='taro'")" -ge $(( $(date +%s) / 30 - 1 )) ]

# --- permissions: a store readable by others is refused with exit 4
chmod 644 "$db"
expect_exit "store readable by others" 4 --config "$conf" show taro
grep -q "$db" "$work/err" && ok "store problem names the file" || not_ok "store problem names the file"
chmod 600 "$db"
chmod 644 "$work/mnzone.key"
expect_exit "key readable by others" 4 --config "$conf" add jiro --staff-id 1003 --name X --no-verify
chmod 600 "$work/mnzone.key"

echo "1..$n"
