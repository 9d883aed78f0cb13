#!/bin/sh
# `moetier heatmap --format png` writes an image that libpng reads back, with
# the heat ramp's top colour (the hottest expert), the DRAM (cyan) and pinned
# (magenta) outlines from a live segment, and no outline from a profile.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"
[ -x "$PNG_READ" ] || skip "png_read not built"

start_writer
"$MOETIER" heatmap --format png -o "$TMP/live.png" || fail "heatmap --format png exited $?"
ls "$TMP" | grep -q 'live.png.tmp' && fail "a temporary file was left"
head -c 8 "$TMP/live.png" | od -An -tx1 | grep -q "89 50 4e 47 0d 0a 1a 0a" || fail "no PNG signature"
"$PNG_READ" "$TMP/live.png" fcffa4 00e5ff ff4df0 > "$TMP/info" || fail "libpng cannot read the image back"
read dims < "$TMP/info"
w=${dims%x*} h=${dims#*x}
[ "$w" -ge 300 ] && [ "$h" -ge 100 ] || fail "implausible size $dims"
awk '$1 != "" && NR > 1 && $2 == 0 { print "colour " $1 " missing"; bad = 1 } END { exit bad }' "$TMP/info" ||
    fail "expected colours missing: $(cat "$TMP/info")"

"$WRITER" profile "$TMP/p.prof" || fail "stats_writer profile failed"
"$MOETIER" heatmap "$TMP/p.prof" --format png > "$TMP/prof.png" || fail "heatmap PROFILE png to a pipe exited $?"
"$PNG_READ" "$TMP/prof.png" fcffa4 ff4df0 > "$TMP/info2" || fail "libpng cannot read the profile image"
grep -q "^ff4df0 0$" "$TMP/info2" || fail "a profile's image shows residency: $(cat "$TMP/info2")"
grep -q "^fcffa4 0$" "$TMP/info2" && fail "the hottest colour is missing from the profile's image"
expect_exit 1 "No such file or directory" "$MOETIER" heatmap --format png -o "$TMP/no/such/dir.png"
echo "PASS: $test_name"
