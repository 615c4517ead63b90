#!/usr/bin/env bash
# The template po/lorweb.pot holds every string of the sources (ninja lorweb-pot), every string has a
# German and a French translation (no untranslated or fuzzy entries, ninja lorweb-update-po), and the
# built catalogues translate at run time.
#   i18n.sh SOURCE_ROOT BUILD_ROOT
set -u
root=$1 build=$2
failed=0
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
(cd "$root" && xgettext --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
    --keyword=g_dngettext:2,3 -o "$T/fresh.pot" $(grep -v '^#' po/POTFILES.in)) ||
    { echo "FAIL: xgettext"; failed=$((failed + 1)); }
msgcmp --use-untranslated "$root/po/lorweb.pot" "$T/fresh.pot" 2>"$T/missing" ||
    { echo "FAIL: po/lorweb.pot lacks strings of the sources (run ninja lorweb-pot lorweb-update-po):"
      sed "s/^/  /" "$T/missing" | head -6; failed=$((failed + 1)); }
strings=$(LC_ALL=C msgfmt --statistics -o /dev/null "$root/po/lorweb.pot" 2>&1 | sed -n 's/.* \([0-9]*\) untranslated.*/\1/p')
for lang in de fr; do
    stats=$(msgfmt --check --statistics -o /dev/null "$root/po/$lang.po" 2>&1 | tail -1)
    echo "$lang: $stats"
    [[ "$stats" == "$strings translated messages." ]] || { echo "FAIL: $lang is incomplete ($strings strings)"; failed=$((failed + 1)); }
done
for lang in de fr; do mkdir -p "$T/$lang/LC_MESSAGES" && cp "$build/po/$lang/LC_MESSAGES/lorweb.mo" "$T/$lang/LC_MESSAGES/"; done
[ "$(LANGUAGE=de LANG=C.UTF-8 TEXTDOMAINDIR=$T gettext -d lorweb 'Visual Analogy (LoRWeB)')" = "Visuelle Analogie (LoRWeB)" ] ||
    { echo "FAIL: German catalogue"; failed=$((failed + 1)); }
[ "$(LANGUAGE=fr LANG=C.UTF-8 TEXTDOMAINDIR=$T gettext -d lorweb '_Cancel')" = "A_nnuler" ] ||
    { echo "FAIL: French catalogue"; failed=$((failed + 1)); }
[ "$(LANGUAGE=de LANG=C.UTF-8 TEXTDOMAINDIR=$T gettext -d lorweb 'Model files are missing or incomplete.')" = \
  "Modelldateien fehlen oder sind unvollständig." ] || { echo "FAIL: German plug-in messages"; failed=$((failed + 1)); }
echo "i18n: $failed failed"
[ "$failed" -eq 0 ]
