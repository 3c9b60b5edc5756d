#!/bin/sh
# After make install: with LANG=ja_JP.UTF-8 the installed module prompts 「確認コード:」
# and the installed tool speaks Japanese. Run by make installcheck (and so by
# make distcheck). Arguments: the installed module, mnzone-enroll, and mz-login.
module=$1 enroll=$2 login=$3
if ! locale -a 2>/dev/null | grep -qi '^ja_JP\.utf-\?8$'; then
    echo "installcheck-ja: SKIP: locale ja_JP.UTF-8 not generated"; exit 0
fi
dir=$(mktemp -d /tmp/mz-ja.XXXXXX) || exit 1
trap 'rm -rf "$dir"' EXIT
chmod 0700 "$dir"
printf 'store = %s/mnzone.db\nkey_file = %s/mnzone.key\ntime_sync = off\n' "$dir" "$dir" >"$dir/mnzone.conf"
printf 'auth required %s config=%s/mnzone.conf\n' "$module" "$dir" >"$dir/mnzone-ja"
"$enroll" --config "$dir/mnzone.conf" init >/dev/null || exit 1
"$enroll" --config "$dir/mnzone.conf" add taro --staff-id 1 --name '山田 太郎' --no-verify \
    --secret JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP >/dev/null || exit 1
out=$(echo 000000 | LC_ALL=ja_JP.UTF-8 "$login" mnzone-ja taro "$dir" 2>&1)
case "$out" in
*確認コード:*) echo "installcheck-ja: ok: the module prompts 確認コード:" ;;
*) echo "installcheck-ja: FAIL: no Japanese prompt in: $out"; exit 1 ;;
esac
help=$(LC_ALL=ja_JP.UTF-8 "$enroll" --help)
case "$help" in
*使い方*) echo "installcheck-ja: ok: mnzone-enroll --help is Japanese" ;;
*) echo "installcheck-ja: FAIL: mnzone-enroll --help is not Japanese"; exit 1 ;;
esac
# The words the store keeps in English (status, method, outcome) are shown in Japanese.
refused=$(LC_ALL=ja_JP.UTF-8 "$enroll" --config "$dir/mnzone.conf" verify taro 000000 2>&1)
case "$refused" in
*"wrong code"*) echo "installcheck-ja: FAIL: verify shows the English reason: $refused"; exit 1 ;;
*コードが違います*) echo "installcheck-ja: ok: verify gives the reason in Japanese" ;;
*) echo "installcheck-ja: FAIL: verify: $refused"; exit 1 ;;
esac
shown=$(LC_ALL=ja_JP.UTF-8 "$enroll" --config "$dir/mnzone.conf" show taro 2>&1)
case "$shown" in
*"状態:        有効"*"TOTP(アプリ) 有効"*) echo "installcheck-ja: ok: show gives status and method in Japanese" ;;
*) echo "installcheck-ja: FAIL: show: $shown"; exit 1 ;;
esac
