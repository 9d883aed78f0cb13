#!/bin/sh
# The files moetier keeps (live stats segments, profiles) go only into
# directories that are ours: a group- or world-writable directory (not sticky)
# is refused with one line naming it; a symbolic link planted at a segment's
# or profile's path is never followed (the file it names stays untouched);
# another user's profile is refused. docs/threat-model.md.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/tools_lib.sh"

victim=$TMP/victim
echo "precious" > "$victim"
victim_intact() {
    [ "$(cat "$victim")" = precious ] && [ ! -L "$victim" ] || fail "$1: the linked-to file was written"
}

# refused DIR FRAGMENT WHAT: no segment is published in DIR; stderr names FRAGMENT
refused() {
    timeout 10 "$WRITER" segment "$1" > "$TMP/out" 2> "$TMP/err"
    ! grep -q '^ready ' "$TMP/out" || fail "a $3 stats directory was used"
    grep -q "$2" "$TMP/err" || fail "$3 stats directory: no reason given: $(cat "$TMP/err")"
}

# ---- stats directory ----
gw=$TMP/group-writable
mkdir -m 770 "$gw"
chmod 770 "$gw" # whatever the umask
refused "$gw" "group writable" group-writable
[ -z "$(ls "$gw")" ] || fail "files left in the refused directory: $(ls "$gw")"
chmod 707 "$gw"
refused "$gw" "world writable" world-writable
ln -s "$TMP" "$TMP/dirlink"
refused "$TMP/dirlink" "symbolic link" symlinked
# a shared sticky directory (like /dev/shm, the default without XDG_RUNTIME_DIR) is fine
sticky=$TMP/sticky
mkdir -m 1777 "$sticky"
chmod 1777 "$sticky"
MOETIER_STATS_DIR=$sticky start_writer
kill_writer "$WPID"
# a private directory that does not exist yet is created 0700
MOETIER_STATS_DIR=$TMP/fresh start_writer
[ "$(stat -c %a "$TMP/fresh")" = 700 ] || fail "stats directory created with mode $(stat -c %a "$TMP/fresh")"
[ "$(stat -c %a "$WPATH")" = 600 ] || fail "segment created with mode $(stat -c %a "$WPATH")"
kill_writer "$WPID"

# ---- symbolic links planted at a segment's names (this shell's pid is the writer's: exec) ----
d=$TMP/plant
mkdir -m 700 "$d"
sh -c 'ln -s "$1" "$2/moetier-$$.stats.tmp" && exec "$3" segment "$2"' sh "$victim" "$d" "$WRITER" \
    > "$TMP/out" 2> "$TMP/err" &
p=$!
i=0
until grep -q '^ready ' "$TMP/out" 2> /dev/null; do
    i=$((i + 1))
    [ $i -le 100 ] && kill -0 $p 2> /dev/null || fail "writer with a planted .tmp link: $(cat "$TMP/err")"
    sleep 0.05
done
seg=$(sed -n 's/^ready //p' "$TMP/out")
[ -f "$seg" ] && [ ! -L "$seg" ] || fail "$seg is not a regular file"
kill $p
wait $p
victim_intact "link at the temporary name"
sh -c 'ln -s "$1" "$2/moetier-$$.stats" && exec "$3" segment "$2"' sh "$victim" "$d" "$WRITER" \
    > "$TMP/out" 2> "$TMP/err" &
p=$!
i=0
until grep -q '^ready ' "$TMP/out" 2> /dev/null || ! kill -0 $p 2> /dev/null; do
    i=$((i + 1))
    [ $i -le 100 ] || break
    sleep 0.05
done
kill $p 2> /dev/null
wait $p
victim_intact "link at the segment's name"
"$MOETIER" stat "$d"/moetier-*.stats > /dev/null 2>&1 && [ -L "$(ls "$d"/moetier-*.stats)" ] &&
    fail "moetier stat read a segment through a link"

# ---- profiles ----
"$WRITER" profile "$gw/p.prof" > /dev/null 2> "$TMP/err" && fail "a profile was saved into a world-writable directory"
grep -q "world writable" "$TMP/err" || fail "no reason given: $(cat "$TMP/err")"
pd=$TMP/profiles
"$WRITER" profile "$pd/sub/p.prof" || fail "saving a profile into a new directory"
[ "$(stat -c %a "$pd/sub")" = 700 ] || fail "profile directory created with mode $(stat -c %a "$pd/sub")"
[ "$(stat -c %a "$pd/sub/p.prof")" = 600 ] || fail "profile created with mode $(stat -c %a "$pd/sub/p.prof")"
"$MOETIER" profile show "$pd/sub/p.prof" > /dev/null || fail "our own profile is refused"
ln -s "$pd/sub/p.prof" "$pd/link.prof"
expect_exit 2 "symbolic link" "$MOETIER" profile show "$pd/link.prof"
# a link planted at the profile's own name is replaced, not written through
ln -s "$victim" "$pd/sub/q.prof"
"$WRITER" profile "$pd/sub/q.prof" || fail "saving over a planted link"
[ -f "$pd/sub/q.prof" ] && [ ! -L "$pd/sub/q.prof" ] || fail "the profile is still a link"
victim_intact "link at the profile's name"
if [ "$(id -u)" -eq 0 ] && id nobody > /dev/null 2>&1; then
    cp "$pd/sub/p.prof" "$pd/theirs.prof"
    chown nobody "$pd/theirs.prof"
    expect_exit 2 "belongs to another user" "$MOETIER" profile show "$pd/theirs.prof"
else
    note "not root: another user's profile is covered only by the loader's code"
fi
echo "PASS: $test_name"
