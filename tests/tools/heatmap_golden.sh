#!/bin/sh
# `moetier heatmap` text and JSON, from a profile (no residency) and from a
# live segment (residency marks), and experts wrapped into bands on a narrow
# width (goldens; NO_COLOR, pids, times and paths normalized).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

prof=$TMP/test.prof
"$WRITER" profile "$prof" || fail "stats_writer profile failed"
NO_COLOR=1 "$MOETIER" heatmap "$prof" --width 80 > "$TMP/p.txt" || fail "heatmap PROFILE exited $?"
normalize < "$TMP/p.txt" > "$TMP/n"; golden heatmap_profile.txt "$TMP/n"
"$MOETIER" heatmap "$prof" --format json > "$TMP/p.json" || fail "heatmap --format json exited $?"
json_ok "$TMP/p.json"
normalize < "$TMP/p.json" > "$TMP/n"; golden heatmap_profile.json "$TMP/n"

start_writer --comm llama-cli
NO_COLOR=1 "$MOETIER" heatmap --width 80 > "$TMP/s.txt" || fail "heatmap (live) exited $?"
normalize < "$TMP/s.txt" > "$TMP/n"; golden heatmap_segment.txt "$TMP/n"
grep -q "$(printf '\033')" "$TMP/s.txt" && fail "escape codes with NO_COLOR / not a terminal"
"$MOETIER" heatmap --format json -o "$TMP/s.json" || fail "heatmap -o exited $?"
json_ok "$TMP/s.json"
normalize < "$TMP/s.json" > "$TMP/n"; golden heatmap_segment.json "$TMP/n"
COLUMNS=20 NO_COLOR=1 "$MOETIER" heatmap > "$TMP/w.txt" || fail "heatmap COLUMNS=20 exited $?"
normalize < "$TMP/w.txt" > "$TMP/n"; golden heatmap_segment_w20.txt "$TMP/n"
"$MOETIER" heatmap --width 20 > "$TMP/w2.txt" || fail "heatmap --width 20 exited $?"
cmp -s "$TMP/w.txt" "$TMP/w2.txt" || fail "--width 20 and COLUMNS=20 differ"
echo "PASS: $test_name"
