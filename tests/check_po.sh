#!/bin/sh
# po/ja.po must translate every message of the sources: no untranslated, no fuzzy
# entry, and nothing in the sources that the catalogue lacks. TAP output.
src=${MZ_SRCDIR:?}
if ! command -v msgfmt >/dev/null 2>&1 || ! command -v xgettext >/dev/null 2>&1; then
    echo "1..0 # SKIP gettext tools not installed"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "1..3"
if msgfmt -c -o /dev/null "$src/po/ja.po" 2>"$tmp/err"; then echo "ok 1 - ja.po compiles with msgfmt -c"
else echo "not ok 1 - msgfmt -c"; sed 's/^/# /' "$tmp/err"; fi
stats=$(msgfmt --statistics -o /dev/null "$src/po/ja.po" 2>&1)
case "$stats" in
*untranslated*|*fuzzy*) echo "not ok 2 - ja.po: $stats" ;;
*) echo "ok 2 - ja.po: $stats" ;;
esac
(cd "$src" && xgettext --keyword=_ --keyword=N_ --from-code=UTF-8 -o "$tmp/now.pot" -f po/POTFILES.in)
if msgcmp "$src/po/ja.po" "$tmp/now.pot" 2>"$tmp/cmp"; then echo "ok 3 - every message in the sources is in ja.po"
else echo "not ok 3 - messages missing from ja.po"; sed 's/^/# /' "$tmp/cmp" | head -20; fi
