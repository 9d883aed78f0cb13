#!/bin/sh
# `moetier heatmap --format svg`: one self-contained SVG document (no external
# references) with a cell per (layer, expert), the title and the legend.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

start_writer --comm llama-cli
"$MOETIER" heatmap --format svg > "$TMP/h.svg" || fail "heatmap --format svg exited $?"
head -n 1 "$TMP/h.svg" | grep -q '^<?xml version="1.0"' || fail "no XML declaration"
tail -n 1 "$TMP/h.svg" | grep -qx '</svg>' || fail "does not end with </svg>"
[ "$(grep -c '<title>block [0-9]* expert [0-9]*:' "$TMP/h.svg")" -eq 32 ] || fail "expected 32 cells"
grep -q 'moetier heatmap: test-moe.gguf' "$TMP/h.svg" || fail "no title"
grep -q 'in DRAM' "$TMP/h.svg" || fail "no residency legend"
[ "$(grep -c 'stroke="#00e5ff"/>' "$TMP/h.svg")" -eq 8 ] || fail "expected 8 DRAM outlines"
grep -v 'xmlns="http://www.w3.org/2000/svg"' "$TMP/h.svg" | grep -qi 'href\|http:\|https:\|@import' &&
    fail "the SVG refers to something outside itself"
if command -v xmllint > /dev/null 2>&1; then
    xmllint --noout "$TMP/h.svg" || fail "xmllint rejects the SVG"
fi
echo "PASS: $test_name"
