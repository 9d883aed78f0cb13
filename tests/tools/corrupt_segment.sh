#!/bin/sh
# A corrupt, truncated, other-version or foreign stats segment is refused
# with exit 2 and one line naming the defect, never a crash.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

start_writer
seg=$TMP/copy.stats
cp "$WPATH" "$seg"
"$MOETIER" stat "$seg" > /dev/null || fail "an intact copy is refused"

# patch OFFSET BYTES...: writes bytes (octal escapes) into a fresh copy
patch() {
    cp "$WPATH" "$seg"
    off=$1
    shift
    printf "$@" | dd of="$seg" bs=1 seek="$off" conv=notrunc 2> /dev/null
}
patch 0 'XXXX'
expect_exit 2 "not a moetier stats segment (bad magic)" "$MOETIER" stat "$seg"
patch 8 '\007'
expect_exit 2 "stats segment version 7; this moetier reads version 2" "$MOETIER" stat "$seg"
# traffic_hits (offset 1872 on x86-64) above traffic_accesses (320): 65535 hits
patch 1872 '\377\377'
expect_exit 2 "corrupt stats segment: 65535 hits of 320 expert uses" "$MOETIER" stat "$seg"
patch 36 '\377\377\377\177'
expect_exit 2 "beyond the limit" "$MOETIER" stat "$seg"
head -c 100 "$WPATH" > "$seg"
expect_exit 2 "truncated" "$MOETIER" stat "$seg"
size=$(wc -c < "$WPATH")
head -c $((size - 8)) "$WPATH" > "$seg"
expect_exit 2 "truncated stats segment" "$MOETIER" stat --json "$seg"
: > "$seg"
expect_exit 2 "empty file" "$MOETIER" stat "$seg"
head -c 4096 /dev/urandom > "$seg"
expect_exit 2 "not a moetier stats segment" "$MOETIER" heatmap "$seg"
expect_exit 2 "not a moetier stats segment" "$MOETIER" top --iterations 1 "$seg"
ln -s "$WPATH" "$TMP/link.stats"
expect_exit 2 "symbolic link" "$MOETIER" stat "$TMP/link.stats"

# a corrupt segment under a live pid (this shell's) is found and refused by PID
mkdir -p "$MOETIER_STATS_DIR"
printf 'garbage' > "$MOETIER_STATS_DIR/moetier-$$.stats"
expect_exit 2 "smaller than a stats segment header" "$MOETIER" stat $$
rm -f "$MOETIER_STATS_DIR/moetier-$$.stats"

# another user's segment (needs root to make one)
if [ "$(id -u)" -eq 0 ] && id nobody > /dev/null 2>&1; then
    cp "$WPATH" "$seg"
    chown nobody "$seg"
    expect_exit 2 "belongs to another user" "$MOETIER" stat "$seg"
else
    note "not root: the foreign-owner case is covered only by the reader's code"
fi
echo "PASS: $test_name"
