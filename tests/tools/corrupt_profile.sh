#!/bin/sh
# A corrupt, truncated, other-version, other-model or foreign file is refused
# by `moetier profile show` and `moetier heatmap` with exit 2 and one line.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

prof=$TMP/good.prof bad=$TMP/bad.prof
"$WRITER" profile "$prof" || fail "stats_writer profile failed"
"$MOETIER" profile show "$prof" > /dev/null || fail "an intact profile is refused"

patch() {
    cp "$prof" "$bad"
    off=$1
    shift
    printf "$@" | dd of="$bad" bs=1 seek="$off" conv=notrunc 2> /dev/null
}
patch 1200 '\377'
expect_exit 2 "checksum mismatch" "$MOETIER" profile show "$bad"
expect_exit 2 "checksum mismatch" "$MOETIER" heatmap "$bad"
patch 8 '\002'
expect_exit 2 "profile version 2; this moetier reads version 1" "$MOETIER" profile show "$bad"
patch 24 '\377\377\377\377'
expect_exit 2 "corrupt profile" "$MOETIER" profile show --json "$bad"
size=$(wc -c < "$prof")
head -c $((size - 1)) "$prof" > "$bad"
expect_exit 2 "corrupt or truncated profile" "$MOETIER" profile show "$bad"
head -c 500 "$prof" > "$bad"
expect_exit 2 "truncated profile" "$MOETIER" profile show "$bad"
echo "just some text, long enough to pass the length check of a header ......" > "$bad"
expect_exit 2 "not a moetier profile" "$MOETIER" profile show "$bad"
expect_exit 2 "profile is for model test-moe-0123456789abcdef, not other-model" \
    "$MOETIER" profile show --expect-id other-model "$prof"
expect_exit 2 "No such file" "$MOETIER" profile show "$TMP/none.prof"
expect_exit 2 "not a regular file" "$MOETIER" profile show "$TMP"
# a stats segment is not a profile, and a profile is not a stats segment
start_writer
expect_exit 2 "not a moetier profile" "$MOETIER" profile show "$WPATH"
expect_exit 2 "a moetier profile, not a live stats segment" "$MOETIER" stat "$prof"
echo "PASS: $test_name"
